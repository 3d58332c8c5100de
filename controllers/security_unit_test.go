package controllers

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/runtime"
)

// unitHostSecurity is a HostSecurity that records what it was asked and answers as told.
type unitHostSecurity struct {
	apparmor, selinux bool
	profileErr        error
	loaded            map[string]bool
	labelErr          error
	seeds             []string
	options           [][]string
}

func (h *unitHostSecurity) AppArmorEnabled() bool { return h.apparmor }
func (h *unitHostSecurity) SELinuxEnabled() bool  { return h.selinux }
func (h *unitHostSecurity) ProfileLoaded(name string) (bool, error) {
	return h.loaded[name], h.profileErr
}

func (h *unitHostSecurity) SELinuxLabels(seed string, options []string) (string, string, error) {
	h.seeds = append(h.seeds, seed)
	h.options = append(h.options, options)
	if h.labelErr != nil {
		return "", "", h.labelErr
	}
	return "proc:" + strings.Join(options, ","), "file:" + seed, nil
}

// TestApplySecurityOptionsHostAnswers covers the host's answers the older table does not:
// a failing profile lookup, and which seed and options reach the SELinux labeller.
func TestApplySecurityOptionsHostAnswers(t *testing.T) {
	for _, tc := range []struct {
		name   string
		so     *api.SecurityOptions
		host   *unitHostSecurity
		reason string
		// check returns what is wrong with the resolved config, or nil.
		check func(runtime.ContainerConfig, *unitHostSecurity) error
	}{
		{
			name:   "a profile lookup that fails refuses the container with the cause",
			so:     &api.SecurityOptions{AppArmorProfile: "mine"},
			host:   &unitHostSecurity{apparmor: true, profileErr: errors.New("read /sys/kernel/security/apparmor/profiles: permission denied")},
			reason: "dockerSecurityOptions apparmor:mine: read /sys/kernel/security/apparmor/profiles: permission denied",
		},
		{
			name: "a loaded profile is applied, with no-new-privileges and seccomp unconfined",
			so:   &api.SecurityOptions{AppArmorProfile: "mine", NoNewPrivileges: true, Seccomp: "unconfined"},
			host: &unitHostSecurity{apparmor: true, loaded: map[string]bool{"mine": true}},
			check: func(cfg runtime.ContainerConfig, _ *unitHostSecurity) error {
				if cfg.AppArmorProfile != "mine" || !cfg.NoNewPrivileges || !cfg.SeccompUnconfined {
					return fmt.Errorf("cfg %+v", cfg)
				}
				return nil
			},
		},
		{
			name: "a seccomp profile other than unconfined keeps the default filter",
			so:   &api.SecurityOptions{Seccomp: "default"},
			host: &unitHostSecurity{},
			check: func(cfg runtime.ContainerConfig, _ *unitHostSecurity) error {
				if cfg.SeccompUnconfined {
					return errors.New("seccomp filter dropped")
				}
				return nil
			},
		},
		{
			name: "SELinux labels are seeded with the container's runtime ID",
			so:   &api.SecurityOptions{SELinuxLabel: []string{"type:spc_t", "level:s0:c1,c2"}},
			host: &unitHostSecurity{selinux: true},
			check: func(cfg runtime.ContainerConfig, h *unitHostSecurity) error {
				if !slices.Equal(h.seeds, []string{"rid-1"}) || !slices.Equal(h.options[0], []string{"type:spc_t", "level:s0:c1,c2"}) {
					return fmt.Errorf("labeller asked seeds %v options %v", h.seeds, h.options)
				}
				if cfg.SELinuxLabel != "proc:type:spc_t,level:s0:c1,c2" || cfg.SELinuxMountLabel != "file:rid-1" {
					return fmt.Errorf("labels %q %q", cfg.SELinuxLabel, cfg.SELinuxMountLabel)
				}
				return nil
			},
		},
		{
			name:   "a labeller failure names every option the definition asked for",
			so:     &api.SecurityOptions{SELinuxLabel: []string{"user:u", "role:r"}},
			host:   &unitHostSecurity{selinux: true, labelErr: errors.New("bad level")},
			reason: "dockerSecurityOptions label:user:u,label:role:r: bad level",
		},
		{
			name: "label:disable never asks the labeller",
			so:   &api.SecurityOptions{SELinuxLabel: []string{"disable"}},
			host: &unitHostSecurity{},
			check: func(cfg runtime.ContainerConfig, h *unitHostSecurity) error {
				if len(h.seeds) != 0 || cfg.SELinuxLabel != "" {
					return fmt.Errorf("labelled a disabled container: %v %q", h.seeds, cfg.SELinuxLabel)
				}
				return nil
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := runtime.ContainerConfig{ID: "rid-1"}
			err := applySecurityOptions(tc.so, tc.host, &cfg)
			if tc.reason != "" {
				if !errors.Is(err, errInvalidDefinition) || !strings.Contains(err.Error(), tc.reason) {
					t.Fatalf("err = %v, want a definition error with %q", err, tc.reason)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.check(cfg, tc.host); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestNoLSMRefusesEverything: the host without a HostSecurity has neither module.
func TestNoLSMRefusesEverything(t *testing.T) {
	var h HostSecurity = noLSM{}
	if h.AppArmorEnabled() || h.SELinuxEnabled() {
		t.Fatal("noLSM claims a security module")
	}
	if ok, err := h.ProfileLoaded("docker-default"); ok || err == nil {
		t.Errorf("ProfileLoaded = %v, %v", ok, err)
	}
	if _, _, err := h.SELinuxLabels("id", []string{"type:t"}); err == nil {
		t.Error("SELinuxLabels without SELinux succeeded")
	}
}
