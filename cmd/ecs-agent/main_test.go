package main

import (
	"flag"
	"io"
	"testing"
)

// TestRunFlagsHelpAndBadFlags: --help prints the usage and succeeds (a user asking for help
// made no mistake); an unknown flag or a stray argument is a terminal error, as in the
// reference agent, so systemd does not restart into the same mistake.
func TestRunFlagsHelpAndBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"--help"}, exitOK},
		{[]string{"-h"}, exitOK},
		{[]string{"--version"}, exitOK},
		{[]string{"--no-such-flag"}, exitTerminal},
		{[]string{"stray"}, exitTerminal},
	} {
		fs := flag.NewFlagSet("ecs-agent", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var o options
		fs.BoolVar(&o.version, "version", false, "")
		if got := runFlags(fs, &o, tc.args); got != tc.want {
			t.Errorf("ecs-agent %v: exit %d, want %d", tc.args, got, tc.want)
		}
	}
}
