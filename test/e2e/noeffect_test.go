package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestNoEffectVariablesWarnAtStart starts the agent binary with ECS_* variables that
// change nothing in ecsd, from the environment and from ecs.config (one of them from
// both), and checks that its log has exactly one warning naming each, and none for the
// variables that do take effect. Spot draining and the warm pool check take effect on EC2;
// in local mode, which has no instance metadata, each says once that it does nothing here.
func TestNoEffectVariablesWarnAtStart(t *testing.T) {
	h := newAgentHost(t)
	ecsConfig := filepath.Join(h.dir, "ecs.config")
	if err := os.WriteFile(ecsConfig, []byte("ECS_AGENT_LABELS={\"team\":\"a\"}\nECS_ENABLE_HIGH_DENSITY_ENI=false\nECS_LOGLEVEL=info\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h.env = []string{
		"ECSD_CONFIG_FILE=" + ecsConfig,
		"ECS_ENABLE_HIGH_DENSITY_ENI=true",
		"ECS_WARM_POOLS_CHECK=true",
		"ECS_ENABLE_SPOT_INSTANCE_DRAINING=true",
		"ECS_ENABLE_GPU_SUPPORT=true",
		"ECS_CONTAINER_STOP_TIMEOUT=10s",
	}
	h.start()
	defer h.kill(syscall.SIGTERM)
	h.waitLog(`msg=starting`)
	h.waitLog("ECS_WARM_POOLS_CHECK has no effect: there is no instance metadata service here")
	h.waitLog("ECS_ENABLE_SPOT_INSTANCE_DRAINING has no effect: there is no instance metadata service here")

	b, err := os.ReadFile(filepath.Join(h.dir, "agent.log"))
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.Contains(line, "configuration warning") {
			continue
		}
		for _, key := range []string{"ECS_AGENT_LABELS", "ECS_ENABLE_HIGH_DENSITY_ENI", "ECS_WARM_POOLS_CHECK", "ECS_ENABLE_SPOT_INSTANCE_DRAINING",
			"ECS_ENABLE_GPU_SUPPORT", "ECS_CONTAINER_STOP_TIMEOUT", "ECS_LOGLEVEL"} {
			if strings.Contains(line, key+"=") && strings.Contains(line, "has no effect in ecsd") {
				count[key]++
			}
		}
	}
	for key, want := range map[string]int{
		"ECS_AGENT_LABELS": 1, "ECS_ENABLE_HIGH_DENSITY_ENI": 1, "ECS_ENABLE_GPU_SUPPORT": 1,
		"ECS_WARM_POOLS_CHECK": 0, "ECS_ENABLE_SPOT_INSTANCE_DRAINING": 0, "ECS_CONTAINER_STOP_TIMEOUT": 0, "ECS_LOGLEVEL": 0,
	} {
		if count[key] != want {
			t.Errorf("%s: %d no-effect warnings, want %d; log:\n%s", key, count[key], want, h.agentLog())
		}
	}
}
