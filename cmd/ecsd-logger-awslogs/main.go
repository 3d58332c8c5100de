// Command ecsd-logger-awslogs is ecsd-logger with the awslogs log driver: ecsd-logger
// becomes it (exec) when the agent asks a container's logger to ship to CloudWatch Logs.
// It keeps the container's log file as ecsd-logger does and ships the same output (see
// packages loggercmd and awslogs).
package main

import (
	"os"

	"github.com/ecsd/ecsd/internal/loggercmd"
)

func main() {
	os.Exit(loggercmd.Run(os.Args[1:], &awslogsFlags{}))
}
