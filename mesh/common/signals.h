#pragma once

// Clean shutdown for long-running commands: block SIGINT/SIGTERM/SIGHUP before starting
// threads (they inherit the mask), then wait for one on the main thread with sigwait.

namespace mesh::common {

void BlockTerminationSignals();
// Returns the signal received (SIGINT, SIGTERM or SIGHUP).
int WaitForTerminationSignal();

}  // namespace mesh::common
