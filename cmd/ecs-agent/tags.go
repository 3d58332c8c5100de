package main

import (
	"github.com/go-logr/logr"

	"github.com/ecsd/ecsd/controlplane/ecsapi"
	"github.com/ecsd/ecsd/internal/version"
	"github.com/ecsd/ecsd/server/tmds/tagcache"
)

// tagSource is task metadata's ListTagsForResource for …WithTags: the ECS endpoint and
// credentials the agent registers with (the local control plane in local mode), behind a
// short cache. It has a client of its own so that its per-call bounds never touch the
// registration and state-change client's.
func tagSource(be backend, log logr.Logger) (*tagcache.Cache, error) {
	client, err := ecsapi.New(ecsapi.Options{
		Region:      be.region,
		Endpoint:    be.endpoint,
		Credentials: be.creds,
		AppID:       "ecsd-" + version.Version,
		Logger:      log,
	})
	if err != nil {
		return nil, err
	}
	return tagcache.New(tagcache.Options{Lister: client, Logger: log})
}
