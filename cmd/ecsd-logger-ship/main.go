// Command ecsd-logger-ship is ecsd-logger with the log drivers that ship to a receiver on
// the network or the host (fluentd, syslog, gelf): ecsd-logger becomes it (exec) when the agent
// asks a container's logger for one. It keeps the container's log file as ecsd-logger
// does and ships the same output (see packages loggercmd and logship). It is a binary of
// its own so the plain logger, of which hundreds run, stays small.
package main

import (
	"os"

	"github.com/ecsd/ecsd/internal/loggercmd"
)

func main() {
	os.Exit(loggercmd.Run(os.Args[1:], newShipFlags()))
}
