package main

import (
	"slices"
	"testing"
)

func TestShipper(t *testing.T) {
	for _, tc := range []struct {
		args           []string
		binary, prefix string
		rest           []string
	}{
		{[]string{"--file", "/l", "--max-size", "1"}, "", "", []string{"--file", "/l", "--max-size", "1"}},
		{[]string{"--file", "/l", "--awslogs-group", "g", "--awslogs-region=r"}, awslogsBinary, awslogsPrefix, []string{"--file", "/l"}},
		{[]string{"--ship-driver", "fluentd", "--file", "/l", "--ship-tag", "t"}, shipBinary, shipPrefix, []string{"--file", "/l"}},
	} {
		b, p := shipper(tc.args)
		if b != tc.binary || p != tc.prefix {
			t.Errorf("shipper(%q) = %q, %q", tc.args, b, p)
		}
		if p != "" {
			if rest := withoutShipping(tc.args, p); !slices.Equal(rest, tc.rest) {
				t.Errorf("withoutShipping(%q) = %q, want %q", tc.args, rest, tc.rest)
			}
		}
	}
}
