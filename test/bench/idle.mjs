/**
 * An idle Node process for the throughput bench: started beside the
 * allocator with the probe preloaded, it shows how late a timer fires on
 * this machine when the process itself does nothing, the baseline for the
 * kernel's event-loop delay measured in the same burst.
 */
setInterval(() => undefined, 60_000)
