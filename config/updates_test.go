package config

import (
	"strings"
	"testing"
)

// TestUpdateSettings: the download directory defaults to the reference ecs-init's, also
// when set empty, and must be absolute; updates are off unless turned on.
func TestUpdateSettings(t *testing.T) {
	c, _ := mustLoad(t, nil)
	if c.UpdateDownloadDir != "/var/cache/ecs" || c.UpdatesEnabled.Enabled() {
		t.Errorf("defaults: dir %q, enabled %v; want /var/cache/ecs, off", c.UpdateDownloadDir, c.UpdatesEnabled.Enabled())
	}
	c, _ = mustLoad(t, map[string]string{"ECS_UPDATE_DOWNLOAD_DIR": "", "ECS_UPDATES_ENABLED": "true"})
	if c.UpdateDownloadDir != "/var/cache/ecs" || !c.UpdatesEnabled.Enabled() {
		t.Errorf("empty dir, enabled: dir %q, enabled %v", c.UpdateDownloadDir, c.UpdatesEnabled.Enabled())
	}
	c, _ = mustLoad(t, map[string]string{"ECS_UPDATE_DOWNLOAD_DIR": "/srv/ecs-updates"})
	if c.UpdateDownloadDir != "/srv/ecs-updates" {
		t.Errorf("dir %q, want /srv/ecs-updates", c.UpdateDownloadDir)
	}
	_, _, err := load(t, map[string]string{"ECS_UPDATE_DOWNLOAD_DIR": "cache"})
	if err == nil || !strings.Contains(err.Error(), `ECS_UPDATE_DOWNLOAD_DIR="cache"`) || !strings.Contains(err.Error(), "must be an absolute path") {
		t.Errorf("relative dir: Load error %v, want one naming ECS_UPDATE_DOWNLOAD_DIR", err)
	}
}
