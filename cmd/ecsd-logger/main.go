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
// otherwise cost every logger on the host its memory. Likewise it becomes ecsd-logger-ship
// for the fluentd, syslog and gelf drivers (arguments --ship-*).
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/ecsd/ecsd/internal/loggercmd"
)

// The shipping loggers' names, next to ecsd-logger, and the prefix of their arguments.
const (
	awslogsBinary = "ecsd-logger-awslogs"
	awslogsPrefix = "--awslogs-"
	shipBinary    = "ecsd-logger-ship"
	shipPrefix    = "--ship-"
)

func main() {
	args := os.Args[1:]
	if binary, prefix := shipper(args); binary != "" {
		err := execShipper(binary)
		// Still here: the container's output goes to its file, without shipping.
		fmt.Fprintf(os.Stderr, "ecsd-logger: cannot run %s: %v\n", binary, err)
		args = withoutShipping(args, prefix)
	}
	os.Exit(loggercmd.Run(args, nil))
}

// shipper is the shipping logger args ask for, and the prefix of its arguments; "" when
// they ask for none.
func shipper(args []string) (binary, prefix string) {
	for _, a := range args {
		switch {
		case strings.HasPrefix(a, awslogsPrefix):
			return awslogsBinary, awslogsPrefix
		case strings.HasPrefix(a, shipPrefix):
			return shipBinary, shipPrefix
		}
	}
	return "", ""
}

func execShipper(binary string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	path := filepath.Join(filepath.Dir(self), binary)
	return syscall.Exec(path, append([]string{path}, os.Args[1:]...), os.Environ())
}

// withoutShipping drops the shipping driver's "--flag value" pairs.
func withoutShipping(args []string, prefix string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		if strings.HasPrefix(args[i], prefix) {
			if !strings.Contains(args[i], "=") {
				i++
			}
			continue
		}
		out = append(out, args[i])
	}
	return out
}
