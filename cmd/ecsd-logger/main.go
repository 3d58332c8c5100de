// Command ecsd-logger takes a task container's stdout and stderr into its log file. The
// agent does not run it: containerd's shim does, once per container, through containerd's
// binary logging (cio.BinaryIO), with the container's stdout on fd 3, its stderr on fd 4
// and a readiness pipe on fd 5, and arguments the agent chose (containerlog.Args). It
// lives as long as the container's task, whatever happens to the agent, and it never lets
// the container block on its output: see packages containerlog and loggercmd.
//
// The shim stops it with SIGTERM when the task is deleted (and kills it 12 s later): it
// then reads what is left in the pipes, for at most a few seconds, writes it, and exits.
//
// When its arguments ask for the awslogs driver it becomes ecsd-logger-awslogs (exec, same
// process and descriptors), installed next to it: the AWS SDK that shipping needs would
// otherwise cost every logger on the host its memory.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/ecsd/ecsd/internal/loggercmd"
)

// AWSLogsBinary is the shipping logger's name, next to ecsd-logger.
const awslogsBinary = "ecsd-logger-awslogs"

func main() {
	args := os.Args[1:]
	if ships(args) {
		err := execAWSLogs()
		// Still here: the container's output goes to its file, without shipping.
		fmt.Fprintf(os.Stderr, "ecsd-logger: awslogs: cannot run %s: %v\n", awslogsBinary, err)
		args = withoutShipping(args)
	}
	os.Exit(loggercmd.Run(args, nil))
}

// ships reports whether args ask for a shipping driver.
func ships(args []string) bool {
	for _, a := range args {
		if strings.HasPrefix(a, "--awslogs-") {
			return true
		}
	}
	return false
}

func execAWSLogs() error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	path := filepath.Join(filepath.Dir(self), awslogsBinary)
	return syscall.Exec(path, append([]string{path}, os.Args[1:]...), os.Environ())
}

// withoutShipping drops the shipping driver's "--flag value" pairs.
func withoutShipping(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		if strings.HasPrefix(args[i], "--awslogs-") {
			if !strings.Contains(args[i], "=") {
				i++
			}
			continue
		}
		out = append(out, args[i])
	}
	return out
}
