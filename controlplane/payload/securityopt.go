package payload

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ecsd/ecsd/api/v1alpha1"
)

// maxSecurityOptions bounds a container's dockerSecurityOptions; Docker has a handful of
// option kinds, so a longer list is a broken payload.
const maxSecurityOptions = 32

// securityOptions parses Docker's HostConfig.SecurityOpt, which carries ECS's
// dockerSecurityOptions. Docker accepts "key=value" and the older "key:value" (the form
// ECS documents); both are taken here. What the options need from the host (AppArmor,
// SELinux) is checked when the container is created, since the host may change between
// accepting a task and running it; what ecsd can never do is refused here:
//   - no-new-privileges[:true|false]
//   - apparmor:PROFILE
//   - label:user:U, label:role:R, label:type:T, label:level:L, label:disable
//   - seccomp:unconfined (a custom seccomp profile is refused)
//
// Anything else (credentialspec, which is Windows', systempaths, unknown keys) is refused.
// nil in, nil out.
func securityOptions(opts []string) (*v1alpha1.SecurityOptions, error) {
	if len(opts) == 0 {
		return nil, nil
	}
	if len(opts) > maxSecurityOptions {
		return nil, fmt.Errorf("SecurityOpt: %w: %d options (at most %d)", ErrInvalidValue, len(opts), maxSecurityOptions)
	}
	out := &v1alpha1.SecurityOptions{}
	for i, o := range opts {
		if err := securityOption(out, o); err != nil {
			return nil, fmt.Errorf("SecurityOpt[%d] %q: %w", i, o, err)
		}
	}
	return out, nil
}

func securityOption(out *v1alpha1.SecurityOptions, o string) error {
	if o == "no-new-privileges" {
		out.NoNewPrivileges = true
		return nil
	}
	key, val, ok := cutOption(o)
	if !ok {
		return fmt.Errorf("%w (want no-new-privileges, apparmor:PROFILE, label:VALUE or seccomp:unconfined)", ErrInvalidValue)
	}
	switch key {
	case "no-new-privileges":
		b, err := strconv.ParseBool(val)
		if err != nil {
			return fmt.Errorf("%w (want true or false)", ErrInvalidValue)
		}
		out.NoNewPrivileges = b
	case "apparmor":
		if val == "" {
			return fmt.Errorf("apparmor profile: %w", ErrMissing)
		}
		out.AppArmorProfile = val
	case "label":
		if val != "disable" {
			k, v, ok := strings.Cut(val, ":")
			switch {
			case !ok || v == "":
				return fmt.Errorf("%w (want label:user:U, label:role:R, label:type:T, label:level:L or label:disable)", ErrInvalidValue)
			case k != "user" && k != "role" && k != "type" && k != "level":
				return fmt.Errorf("%w: label field %q (want user, role, type or level)", ErrInvalidValue, k)
			}
		}
		out.SELinuxLabel = append(out.SELinuxLabel, val)
	case "seccomp":
		if val != "unconfined" {
			// Docker's client reads a profile file and sends its JSON; ECS has no way to
			// ship one, and a host path would run a profile nobody reviewed with the task.
			return fmt.Errorf("seccomp profile: %w (only seccomp:unconfined; the default profile applies without the option)", ErrUnsupported)
		}
		out.Seccomp = val
	case "credentialspec":
		return fmt.Errorf("credential specs are for Windows gMSA: %w", ErrUnsupported)
	default:
		return fmt.Errorf("security option %q: %w", key, ErrUnsupported)
	}
	return nil
}

// cutOption splits "key=value" or "key:value", whichever separator comes first.
func cutOption(o string) (key, val string, ok bool) {
	i := strings.IndexAny(o, "=:")
	if i <= 0 {
		return "", "", false
	}
	return o[:i], o[i+1:], true
}
