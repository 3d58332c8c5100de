package logdriver

import (
	"errors"
	"strings"
	"testing"

	api "github.com/ecsd/ecsd/api/v1alpha1"
)

var shipEnv = Env{TaskARN: "arn:aws:ecs:r:1:task/c/tid", TaskID: "tid", Container: "web",
	RuntimeID: "0123456789abcdef0123", DockerName: "ecs-fam-3-web-0123456789abcdef0123", ImageName: "busybox:1", ImageID: "sha256:feedfacecafe0000"}

func TestShipSettings(t *testing.T) {
	for _, tc := range []struct {
		name   string
		lc     *api.LogConfig
		env    Env
		want   map[string]string
		absent []string
	}{
		{"fluentd defaults: Docker's tag, the container in records, non-blocking",
			&api.LogConfig{Driver: "fluentd"}, shipEnv,
			map[string]string{"--ship-driver": "fluentd", "--ship-tag": "0123456789ab", "--ship-mode": "non-blocking",
				"--ship-container-id": shipEnv.RuntimeID, "--ship-container-name": "/" + shipEnv.DockerName,
				"--max-size": "10485760", "--max-file": "5"},
			[]string{"--ship-fluentd-address", "--ship-max-buffer-size"}},
		{"fluentd options pass through; the tag template is expanded",
			&api.LogConfig{Driver: "fluentd", Options: map[string]string{"fluentd-address": "unix:///run/f.sock", "tag": "{{.ImageName}}/{{.Name}}/{{.ImageID}}/{{.FullID}}",
				"fluentd-async": "true", "fluentd-sub-second-precision": "true", "fluentd-retry-wait": "2s", "max-buffer-size": "4m"}}, shipEnv,
			map[string]string{"--ship-fluentd-address": "unix:///run/f.sock", "--ship-tag": "busybox:1/" + shipEnv.DockerName + "/feedfacecafe/" + shipEnv.RuntimeID,
				"--ship-fluentd-async": "true", "--ship-fluentd-sub-second-precision": "true", "--ship-fluentd-retry-wait": "2s", "--ship-max-buffer-size": "4194304"}, nil},
		{"syslog",
			&api.LogConfig{Driver: "syslog", Options: map[string]string{"syslog-address": "tcp://127.0.0.1:601", "syslog-format": "rfc5424", "syslog-facility": "local0", "mode": "blocking"}}, shipEnv,
			map[string]string{"--ship-driver": "syslog", "--ship-syslog-address": "tcp://127.0.0.1:601", "--ship-syslog-format": "rfc5424",
				"--ship-syslog-facility": "local0", "--ship-mode": "blocking", "--ship-tag": "0123456789ab"},
			[]string{"--ship-container-id"}},
		{"gelf: the container and its image in messages",
			&api.LogConfig{Driver: "gelf", Options: map[string]string{"gelf-address": "udp://127.0.0.1:12201"}}, shipEnv,
			map[string]string{"--ship-driver": "gelf", "--ship-gelf-address": "udp://127.0.0.1:12201", "--ship-container-id": shipEnv.RuntimeID,
				"--ship-container-name": shipEnv.DockerName, "--ship-image-name": "busybox:1", "--ship-image-id": shipEnv.ImageID}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Settings(tc.lc, tc.env)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.want {
				if got.LoggerArgs[k] != v {
					t.Errorf("%s = %q, want %q", k, got.LoggerArgs[k], v)
				}
			}
			for _, k := range tc.absent {
				if v, ok := got.LoggerArgs[k]; ok {
					t.Errorf("%s = %q, want none", k, v)
				}
			}
		})
	}
}

func TestShipSettingsRefused(t *testing.T) {
	withSecret := shipEnv
	withSecret.SecretOptions = []string{"fluentd-address"}
	missing := shipEnv
	missing.ShipUnavailable = "ecsd-logger-ship is not installed next to /x/ecsd-logger"
	for _, tc := range []struct {
		lc   *api.LogConfig
		env  Env
		want string
	}{
		{&api.LogConfig{Driver: "fluentd", Options: map[string]string{"fluentd-address": "udp://h:1"}}, shipEnv, `scheme "udp" is not supported`},
		{&api.LogConfig{Driver: "fluentd", Options: map[string]string{"fluentd-async": "false"}}, shipEnv, "fluentd-async false is not supported by ecsd"},
		{&api.LogConfig{Driver: "fluentd", Options: map[string]string{"fluentd-retry-wait": "soon"}}, shipEnv, `fluentd-retry-wait "soon"`},
		{&api.LogConfig{Driver: "fluentd", Options: map[string]string{"fluentd-buffer-limit": "-1"}}, shipEnv, `fluentd-buffer-limit "-1"`},
		{&api.LogConfig{Driver: "fluentd", Options: map[string]string{"labels": "a"}}, shipEnv, `option "labels" is not supported by ecsd`},
		{&api.LogConfig{Driver: "fluentd", Options: map[string]string{"tag": "{{.Nope}}"}}, shipEnv, `tag "{{.Nope}}"`},
		{&api.LogConfig{Driver: "fluentd", Options: map[string]string{"mode": "blocking", "max-buffer-size": "1m"}}, shipEnv, "only supported with mode non-blocking"},
		{&api.LogConfig{Driver: "fluentd"}, withSecret, "secret options (fluentd-address) are not supported"},
		{&api.LogConfig{Driver: "fluentd"}, missing, "fluentd is not available on this instance: ecsd-logger-ship is not installed"},
		{&api.LogConfig{Driver: "syslog", Options: map[string]string{"syslog-address": "tcp+tls://h:6514"}}, shipEnv, "tcp+tls is not supported by ecsd"},
		{&api.LogConfig{Driver: "syslog", Options: map[string]string{"syslog-facility": "local9"}}, shipEnv, `syslog-facility "local9"`},
		{&api.LogConfig{Driver: "syslog", Options: map[string]string{"syslog-format": "json"}}, shipEnv, `syslog-format "json"`},
		{&api.LogConfig{Driver: "syslog", Options: map[string]string{"syslog-tls-ca-cert": "/ca"}}, shipEnv, `option "syslog-tls-ca-cert" is not supported by ecsd`},
		{&api.LogConfig{Driver: "syslog", Options: map[string]string{"fluentd-address": "h"}}, shipEnv, `option "fluentd-address" is not supported by ecsd`},
		{&api.LogConfig{Driver: "gelf"}, shipEnv, "gelf-address is required"},
		{&api.LogConfig{Driver: "gelf", Options: map[string]string{"gelf-address": "tcp://h:1", "gelf-compression-type": "gzip"}}, shipEnv, "GELF over TCP is not compressed"},
		{&api.LogConfig{Driver: "gelf", Options: map[string]string{"gelf-address": "udp://h:1", "gelf-tcp-max-reconnect": "3"}}, shipEnv, "only supported with a tcp gelf-address"},
	} {
		_, err := Settings(tc.lc, tc.env)
		if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %v: %v, want ErrInvalid with %q", tc.lc.Driver, tc.lc.Options, err, tc.want)
		}
	}
}
