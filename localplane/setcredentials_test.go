package localplane

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecs"
)

// TestSetCredentialsRotatesKeys: after SetCredentials the old key is refused and the new
// one accepted; authentication cannot be switched off by it.
func TestSetCredentialsRotatesKeys(t *testing.T) {
	p := newPlane(t, Options{HeartbeatInterval: time.Hour, ManifestInterval: time.Hour})
	ctx := context.Background()
	if _, err := p.ecs.ListClusters(ctx, &ecs.ListClustersInput{}); err != nil {
		t.Fatalf("before rotation: %v", err)
	}
	if err := p.SetCredentials(map[string]string{"AKIDROTATED": "rotated-secret"}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.ecs.ListClusters(ctx, &ecs.ListClustersInput{}); err == nil {
		t.Error("the rotated-out key is still accepted")
	}
	if _, err := ecsClient(p.http.URL, "AKIDROTATED", "rotated-secret").ListClusters(ctx, &ecs.ListClustersInput{}); err != nil {
		t.Errorf("the new key is refused: %v", err)
	}
	if err := p.SetCredentials(nil); err == nil {
		t.Error("SetCredentials(nil) switched authentication off")
	}
}
