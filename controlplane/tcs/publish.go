package tcs

import "context"

// Publish queues one round of telemetry: a metrics batch, a health batch and the
// instance status, each as the options allow. The engine calls it right after connecting
// and then every publish interval.
func (c *conn) Publish(ctx context.Context) {
	s := c.s
	at := s.now()
	base := batchMeta{cluster: s.o.Cluster, containerInstance: s.o.ContainerInstanceARN, at: at}
	if !s.o.DisableMetrics {
		usage, idle := s.o.Telemetry.Flush()
		if tasks := taskMetrics(usage); len(tasks) > 0 || idle {
			m := base
			m.messageID = newMessageID()
			reqs := metricsRequests(m, s.instanceMetrics(ctx), tasks, idle)
			for i := range reqs {
				c.send(reqs[i])
			}
			s.log.V(1).Info("publishing metrics", "tasks", len(tasks), "idle", idle, "requests", len(reqs))
		}
	}
	if !s.o.DisableHealth {
		health, err := s.o.Telemetry.Health(ctx)
		if err != nil {
			s.log.Info("cannot collect container health", "error", err.Error())
		}
		m := base
		m.messageID = newMessageID()
		for _, r := range healthRequests(m, taskHealth(health)) {
			c.send(r)
		}
	}
	if s.o.InstanceStatus != nil {
		if st := s.o.InstanceStatus(ctx); len(st) > 0 {
			c.send(PublishInstanceStatusRequest{
				Metadata: &InstanceStatusMetadata{Cluster: s.o.Cluster, ContainerInstance: s.o.ContainerInstanceARN,
					RequestID: newMessageID()},
				Statuses:  st,
				Timestamp: At(at),
			})
		}
	}
}

// instanceMetrics asks Options.InstanceMetrics, if set; a failure only costs this batch
// its instance metrics.
func (s *Session) instanceMetrics(ctx context.Context) *InstanceMetrics {
	if s.o.InstanceMetrics == nil {
		return nil
	}
	m, err := s.o.InstanceMetrics(ctx)
	if err != nil {
		s.log.V(1).Info("cannot collect instance metrics", "error", err.Error())
		return nil
	}
	return m
}
