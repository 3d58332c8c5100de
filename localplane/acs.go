package localplane

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/ecsd/ecsd/controlplane/payload"
	"github.com/ecsd/ecsd/controlplane/sigv4"
)

// serveACS accepts an agent's ACS websocket after checking its signature and that the
// container instance it names is registered and active in the cluster it names.
func (s *Server) serveACS(w http.ResponseWriter, r *http.Request) {
	if err := s.authenticate(r, sigv4.EmptyPayloadHash); err != nil {
		s.log.Info("refused an ACS handshake", "reason", err.Error(), "remote", r.RemoteAddr)
		refuseUpgrade(w, http.StatusForbidden, payload.TypeAccessDeniedException, authError(err).msg)
		return
	}
	q := r.URL.Query()
	inst, clusterARN, typ, msg := s.acsInstance(q.Get("clusterArn"), q.Get("containerInstanceArn"))
	if typ != "" {
		s.log.Info("refused an ACS handshake", "reason", typ+": "+msg, "containerInstance", q.Get("containerInstanceArn"))
		refuseUpgrade(w, http.StatusBadRequest, typ, msg)
		return
	}
	conn, err := accept(w, r)
	if err != nil {
		s.log.Info("ACS websocket upgrade failed", "error", err.Error())
		return
	}
	protocol, _ := strconv.Atoi(q.Get("protocolVersion"))
	a := newACSSession(s, conn, inst, clusterARN, protocol, q.Get("sendCredentials") == "true")
	if !s.addACS(a) {
		conn.CloseNow()
		return
	}
	defer s.removeACS(a)
	s.recordAgentVersion(inst, q)
	s.agentReconnected(inst)
	a.log.Info("ACS session connected", "protocolVersion", protocol, "sendCredentials", a.sendCredentials,
		"agentVersion", q.Get("agentVersion"))
	a.run()
	a.log.Info("ACS session ended")
}

// acsInstance resolves the handshake's cluster and instance. On refusal it returns the
// ACS exception type and message to send.
func (s *Server) acsInstance(clusterRef, instanceRef string) (instance, clusterARN, typ, msg string) {
	if instanceRef == "" {
		return "", "", payload.TypeBadRequestException, "containerInstanceArn is required"
	}
	s.view(func(st *state) {
		c := s.cluster(st, clusterRef)
		if c == nil {
			typ, msg = payload.TypeInvalidClusterException, "cluster "+clusterRef+" not found"
			return
		}
		arn, ok := s.arn.scoped("container-instance", c.Name, instanceRef)
		inst := st.Instances[arn]
		switch {
		case !ok || inst == nil || inst.Cluster != c.Name:
			typ, msg = payload.TypeInvalidInstanceException, "container instance "+instanceRef+" not found in cluster "+c.Name
		case !registered(inst.Status):
			typ, msg = payload.TypeInactiveInstanceException, "container instance "+instanceRef+" is "+inst.Status
		default:
			instance, clusterARN = arn, c.ARN
		}
	})
	return instance, clusterARN, typ, msg
}

// recordAgentVersion keeps the agent version the ACS URL announces: ECS reports it as the
// container instance's versionInfo.
func (s *Server) recordAgentVersion(instanceARN string, q url.Values) {
	vi := versionInfo{AgentVersion: q.Get("agentVersion"), AgentHash: q.Get("agentHash"), DockerVersion: q.Get("dockerVersion")}
	err := s.update(func(st *state) error {
		inst := st.Instances[instanceARN]
		if inst == nil || inst.VersionInfo == vi || vi == (versionInfo{}) {
			return errUnchanged
		}
		inst.VersionInfo = vi
		inst.Version++
		return nil
	})
	if err != nil {
		s.log.Error(err, "cannot record the agent version", "containerInstance", instanceARN)
	}
}
