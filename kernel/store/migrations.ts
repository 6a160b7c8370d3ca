/**
 * Forward-only, numbered schema migrations. The database records the highest
 * migration applied; a database from a newer release (a number we don't know)
 * or one that fails SQLite's integrity check is refused, never rewritten.
 */
export interface Migration {
  readonly id: number
  readonly name: string
  readonly sql: ReadonlyArray<string>
}

/** Trigram full-text index over doc and patient ids: substring search stays fast at a million rows. */
export const SEARCH_INDEX_SQL: ReadonlyArray<string> = [
  `CREATE VIRTUAL TABLE job_runs_search USING fts5(doc_id, patient_id, content='job_runs', content_rowid='id', tokenize='trigram')`,
  `INSERT INTO job_runs_search(job_runs_search) VALUES ('rebuild')`,
  `CREATE TRIGGER job_runs_search_ai AFTER INSERT ON job_runs BEGIN
     INSERT INTO job_runs_search(rowid, doc_id, patient_id) VALUES (new.id, new.doc_id, new.patient_id);
   END`,
  `CREATE TRIGGER job_runs_search_ad AFTER DELETE ON job_runs BEGIN
     INSERT INTO job_runs_search(job_runs_search, rowid, doc_id, patient_id) VALUES ('delete', old.id, old.doc_id, old.patient_id);
   END`,
  `CREATE TRIGGER job_runs_search_au AFTER UPDATE OF doc_id, patient_id ON job_runs BEGIN
     INSERT INTO job_runs_search(job_runs_search, rowid, doc_id, patient_id) VALUES ('delete', old.id, old.doc_id, old.patient_id);
     INSERT INTO job_runs_search(rowid, doc_id, patient_id) VALUES (new.id, new.doc_id, new.patient_id);
   END`
]

export const MIGRATIONS: ReadonlyArray<Migration> = [
  {
    id: 1,
    name: "initial",
    sql: [
      `CREATE TABLE job_runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        doc_id TEXT NOT NULL,
        service TEXT NOT NULL,
        patient_id TEXT,
        patient_name TEXT,
        collection_date TEXT,
        state TEXT NOT NULL,
        attempt INTEGER NOT NULL CHECK (attempt >= 1),
        scheduled_run_at TEXT,
        started_at TEXT,
        finished_at TEXT,
        exit_code INTEGER,
        error_message TEXT,
        notes TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      )`,
      `CREATE INDEX job_runs_doc ON job_runs (doc_id, id)`,
      `CREATE INDEX job_runs_state ON job_runs (state, scheduled_run_at, id)`,
      `CREATE INDEX job_runs_patient ON job_runs (patient_id)`,
      `CREATE INDEX job_runs_finished ON job_runs (finished_at)`,
      `CREATE INDEX job_runs_created ON job_runs (created_at, id)`,
      `CREATE TABLE manual_holds (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        doc_id TEXT NOT NULL,
        service TEXT NOT NULL,
        patient_id TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('holding', 'released', 'cancelled')),
        created_by TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      )`,
      `CREATE UNIQUE INDEX manual_holds_one_holding ON manual_holds (doc_id) WHERE state = 'holding'`,
      `CREATE TABLE command_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        user TEXT NOT NULL,
        name TEXT NOT NULL,
        args TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('started', 'ok', 'refused', 'error')),
        result TEXT,
        finished_at TEXT
      )`,
      `CREATE INDEX command_log_at ON command_log (at)`,
      `CREATE TABLE notifications_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        template TEXT NOT NULL,
        doc_id TEXT,
        recipients TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('ok', 'failed', 'skipped')),
        error TEXT
      )`,
      `CREATE INDEX notifications_log_at ON notifications_log (at)`,
      `CREATE TABLE tunables (
        key TEXT PRIMARY KEY,
        value INTEGER NOT NULL,
        updated_at TEXT NOT NULL,
        updated_by TEXT
      )`,
      `CREATE TABLE ocr_cache (
        doc_id TEXT PRIMARY KEY,
        run_id INTEGER NOT NULL,
        ocr_path TEXT NOT NULL,
        created_at TEXT NOT NULL
      )`,
      `CREATE INDEX ocr_cache_created ON ocr_cache (created_at)`,
      `CREATE TABLE health_cache (
        name TEXT PRIMARY KEY,
        ok INTEGER NOT NULL,
        detail TEXT NOT NULL,
        checked_at TEXT NOT NULL
      )`
    ]
  },
  {
    id: 2,
    name: "search index and state scans",
    sql: [...SEARCH_INDEX_SQL, `CREATE INDEX job_runs_state_id ON job_runs (state, id)`]
  },
  {
    id: 3,
    name: "external job id (Slurm) on a run",
    sql: [`ALTER TABLE job_runs ADD COLUMN external_id TEXT`]
  },
  {
    id: 4,
    name: "write probe row for /readyz",
    sql: [`CREATE TABLE write_probe (id INTEGER PRIMARY KEY CHECK (id = 1), at TEXT NOT NULL)`]
  },
  {
    id: 5,
    name: "integrity bookkeeping: last full check, last orderly close",
    sql: [`CREATE TABLE integrity (id INTEGER PRIMARY KEY CHECK (id = 1), checked_at TEXT, clean_close_at TEXT)`]
  }
]

export const LATEST_MIGRATION = MIGRATIONS.reduce((max, m) => Math.max(max, m.id), 0)
