import { ACTIVE_STATES, type JobState, TERMINAL_STATES } from "../../schemas/job.ts"

export const JOB_STATES_FOR_TEST: ReadonlyArray<JobState> = [...ACTIVE_STATES, ...TERMINAL_STATES]
