package logdriver

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/runtime"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"10m": 10 << 20, "10M": 10 << 20, "512k": 512 << 10, "1g": 1 << 30, "2048": 2048, "1.5m": 3 << 19, "10mb": 10 << 20, "10MiB": 10 << 20} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "0", "ten", "10x", "10 m b"} {
		if got, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", in, got)
		}
	}
}

func TestSettings(t *testing.T) {
	args := func(size, file string) runtime.LogSettings {
		return runtime.LogSettings{LoggerArgs: map[string]string{"--max-size": size, "--max-file": file}}
	}
	for _, tc := range []struct {
		name string
		lc   *api.LogConfig
		want runtime.LogSettings
		err  string
	}{
		{"no configuration: the default bound", nil, args("10485760", "5"), ""},
		{"json-file without options", &api.LogConfig{Driver: "json-file"}, args("10485760", "5"), ""},
		{"both", &api.LogConfig{Driver: "json-file", Options: map[string]string{"max-size": "10m", "max-file": "3"}}, args("10485760", "3"), ""},
		{"max-size alone keeps one file (Docker)", &api.LogConfig{Driver: "json-file", Options: map[string]string{"max-size": "1m"}}, args("1048576", "1"), ""},
		{"max-file alone", &api.LogConfig{Driver: "json-file", Options: map[string]string{"max-file": "2"}}, args("10485760", "2"), ""},
		{"none", &api.LogConfig{Driver: "none"}, runtime.LogSettings{Discard: true}, ""},
		{"bad max-size", &api.LogConfig{Driver: "json-file", Options: map[string]string{"max-size": "lots"}}, runtime.LogSettings{}, `log driver json-file: max-size: "lots" is not a size`},
		{"bad max-file", &api.LogConfig{Driver: "json-file", Options: map[string]string{"max-file": "0"}}, runtime.LogSettings{}, `max-file "0": must be a whole number of at least 1`},
		{"unknown option", &api.LogConfig{Driver: "json-file", Options: map[string]string{"compress": "true"}}, runtime.LogSettings{}, `option "compress" is not supported by ecsd`},
		{"unknown driver", &api.LogConfig{Driver: "splunk"}, runtime.LogSettings{}, `log driver "splunk" is not supported by ecsd`},
		{"none with options", &api.LogConfig{Driver: "none", Options: map[string]string{"max-size": "1m"}}, runtime.LogSettings{}, `log driver none takes no options`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Settings(tc.lc, Env{})
			if tc.err != "" {
				if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Settings = %v, want ErrInvalid with %q", err, tc.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Settings = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}
