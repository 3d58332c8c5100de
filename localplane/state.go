package localplane

import (
	"sort"

	"github.com/ecsd/ecsd/controlplane/payload"
)

// stateVersion is the schema version of the state file. A file written by a newer version
// is refused rather than half understood.
const stateVersion = 1

// Status values used by the records.
const (
	statusActive   = "ACTIVE"
	statusInactive = "INACTIVE"
	// statusDraining is a container instance that takes no new tasks but keeps its agent,
	// its sessions and the tasks on it (UpdateContainerInstancesState).
	statusDraining = "DRAINING"

	taskPending = "PENDING"
	taskRunning = "RUNNING"
	taskStopped = "STOPPED"
)

// state is everything the control plane knows, and what the state file holds. It is only
// touched with Server.mu held. Sessions, health reports and the test-hook recordings are
// not part of it: they describe connections, which do not survive a restart.
type state struct {
	Version   int                        `json:"version"`
	Clusters  map[string]*clusterRecord  `json:"clusters"`  // by name
	Instances map[string]*instanceRecord `json:"instances"` // by ARN
	Families  map[string]*familyRecord   `json:"families"`  // by family name
	Tasks     map[string]*taskRecord     `json:"tasks"`     // by ARN
	// RunTokens are the clientTokens of recent RunTask calls, by runTokenKey.
	RunTokens map[string]*runToken `json:"runTokens,omitempty"`
	// Registrations counts instance registrations, numbering them (instanceRecord.Order).
	Registrations int64 `json:"registrations,omitempty"`
}

type clusterRecord struct {
	Name              string           `json:"name"`
	ARN               string           `json:"arn"`
	Status            string           `json:"status"`
	Tags              []tag            `json:"tags,omitempty"`
	Settings          []clusterSetting `json:"settings,omitempty"`
	CapacityProviders []string         `json:"capacityProviders,omitempty"`
	CreatedAt         Timestamp        `json:"createdAt,omitzero"`
}

type instanceRecord struct {
	ARN              string           `json:"arn"`
	Cluster          string           `json:"cluster"` // cluster name
	Status           string           `json:"status"`
	EC2InstanceID    string           `json:"ec2InstanceId,omitempty"`
	AvailabilityZone string           `json:"availabilityZone"`
	Attributes       []attribute      `json:"attributes,omitempty"`
	Resources        []resource       `json:"resources,omitempty"` // registered
	PlatformDevices  []platformDevice `json:"platformDevices,omitempty"`
	Tags             []tag            `json:"tags,omitempty"`
	VersionInfo      versionInfo      `json:"versionInfo"`
	RegisteredAt     Timestamp        `json:"registeredAt,omitzero"`
	// Order numbers the registrations: instances registered in the same millisecond are
	// still ordered as they came (placement breaks ties by registration order).
	Order       int64  `json:"order,omitempty"`
	Version     int64  `json:"version"`
	ClientToken string `json:"clientToken,omitempty"`
	// SeqNum is the last number of the instance's one ACS sequence: every PayloadMessage
	// takes the next as its seqNum and every TaskManifestMessage as its timeline. ECS
	// numbers both from one sequence, and the agent discards a manifest whose timeline is
	// not above every seqNum and timeline it has seen, so a manifest is acted on only if
	// it is newer than every payload applied. It only grows, across restarts too.
	SeqNum int64 `json:"seqNum"`
	// LegacyManifestTimeline is read from files of versions that kept a second counter
	// for manifests; normalize folds it into SeqNum.
	LegacyManifestTimeline int64 `json:"manifestTimeline,omitempty"`
	// AgentUpdate is the latest UpdateContainerAgent (agentupdate.go).
	AgentUpdate *agentUpdateRecord `json:"agentUpdate,omitempty"`
}

type familyRecord struct {
	// Revisions holds revision n at index n-1; deregistered revisions stay (INACTIVE), as
	// ECS keeps them describable and tasks keep referring to them.
	Revisions []*taskDefRecord `json:"revisions"`
}

type taskDefRecord struct {
	Def  taskDefinition `json:"def"`
	Tags []tag          `json:"tags,omitempty"`
}

type taskRecord struct {
	ARN               string `json:"arn"`
	Cluster           string `json:"cluster"` // cluster name
	ContainerInstance string `json:"containerInstance"`
	TaskDefinitionArn string `json:"taskDefinitionArn"`
	// LaunchType is what RunTask asked for (EC2 by default) or, for StartTask, what the
	// instance runs; empty in records of earlier versions, which were all EC2.
	LaunchType    string       `json:"launchType,omitempty"`
	Family        string       `json:"family"`
	Revision      int32        `json:"revision"`
	Overrides     taskOverride `json:"overrides"`
	StartedBy     string       `json:"startedBy,omitempty"`
	Group         string       `json:"group,omitempty"`
	Tags          []tag        `json:"tags,omitempty"`
	DesiredStatus string       `json:"desiredStatus"`
	LastStatus    string       `json:"lastStatus"`
	// AckedDesired is the latest desired status the agent acknowledged receiving (an
	// AckRequest for a payload carrying it). A task whose DesiredStatus differs is
	// (re)sent until acknowledged.
	AckedDesired       string    `json:"ackedDesired,omitempty"`
	StopCode           string    `json:"stopCode,omitempty"`
	StoppedReason      string    `json:"stoppedReason,omitempty"`
	Version            int64     `json:"version"`
	CreatedAt          Timestamp `json:"createdAt,omitzero"`
	PullStartedAt      Timestamp `json:"pullStartedAt,omitzero"`
	PullStoppedAt      Timestamp `json:"pullStoppedAt,omitzero"`
	StartedAt          Timestamp `json:"startedAt,omitzero"`
	StoppingAt         Timestamp `json:"stoppingAt,omitzero"`
	StoppedAt          Timestamp `json:"stoppedAt,omitzero"`
	ExecutionStoppedAt Timestamp `json:"executionStoppedAt,omitzero"`
	// Demand is what the task holds on its instance until it is STOPPED.
	Demand     demand             `json:"demand"`
	Containers []*containerRecord `json:"containers"`
	// The fake role credentials handed to the agent. They carry secrets, which is why the
	// state file is written mode 0600; they are never logged.
	RoleCredentials          *payload.IAMRoleCredentials `json:"roleCredentials,omitempty"`
	ExecutionRoleCredentials *payload.IAMRoleCredentials `json:"executionRoleCredentials,omitempty"`
	// ENI is an awsvpc task's network interface; nil for other network modes.
	ENI *eniRecord `json:"eni,omitempty"`
	// ProtectedUntil is when the task's scale-in protection (UpdateTaskProtection) lapses;
	// zero when it was never enabled or was disabled. It is kept as an instant rather than
	// a flag so protection expires on its own, as in ECS, without a timer.
	ProtectedUntil Timestamp `json:"protectedUntil,omitzero"`
}

type containerRecord struct {
	Name              string           `json:"name"`
	ARN               string           `json:"arn"`
	Image             string           `json:"image"`
	Essential         bool             `json:"essential"`
	CPU               string           `json:"cpu,omitempty"`
	Memory            string           `json:"memory,omitempty"`
	MemoryReservation string           `json:"memoryReservation,omitempty"`
	ImageDigest       string           `json:"imageDigest,omitempty"`
	RuntimeID         string           `json:"runtimeId,omitempty"`
	LastStatus        string           `json:"lastStatus"`
	ExitCode          *int32           `json:"exitCode,omitempty"`
	Reason            string           `json:"reason,omitempty"`
	NetworkBindings   []NetworkBinding `json:"networkBindings,omitempty"`
}

func newState() *state {
	return &state{
		Version:   stateVersion,
		Clusters:  map[string]*clusterRecord{},
		Instances: map[string]*instanceRecord{},
		Families:  map[string]*familyRecord{},
		Tasks:     map[string]*taskRecord{},
		RunTokens: map[string]*runToken{},
	}
}

// normalize fills the maps a hand-edited or older file may lack.
func (st *state) normalize() {
	if st.Clusters == nil {
		st.Clusters = map[string]*clusterRecord{}
	}
	if st.Instances == nil {
		st.Instances = map[string]*instanceRecord{}
	}
	if st.Families == nil {
		st.Families = map[string]*familyRecord{}
	}
	if st.Tasks == nil {
		st.Tasks = map[string]*taskRecord{}
	}
	if st.RunTokens == nil {
		st.RunTokens = map[string]*runToken{}
	}
	for _, in := range st.Instances {
		in.SeqNum = max(in.SeqNum, in.LegacyManifestTimeline)
		in.LegacyManifestTimeline = 0
	}
}

// registered reports whether an instance's status still has an agent talking to ECS: ACTIVE
// or DRAINING (a draining instance stops nothing by itself; its tasks run on).
func registered(status string) bool {
	return status == statusActive || status == statusDraining
}

// instancesOf returns the cluster's instances with one of the statuses (any when none is
// given), oldest registration first so placement and listings are stable.
func (st *state) instancesOf(cluster string, statuses ...string) []*instanceRecord {
	var out []*instanceRecord
	for _, in := range st.Instances {
		if in.Cluster != cluster {
			continue
		}
		if len(statuses) > 0 && !contains(statuses, in.Status) {
			continue
		}
		out = append(out, in)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].RegisteredAt.Equal(out[j].RegisteredAt.Time) {
			return out[i].RegisteredAt.Before(out[j].RegisteredAt.Time)
		}
		if out[i].Order != out[j].Order {
			return out[i].Order < out[j].Order
		}
		return out[i].ARN < out[j].ARN
	})
	return out
}

// tasksOn returns the tasks placed on an instance, by ARN.
func (st *state) tasksOn(instanceARN string) []*taskRecord {
	var out []*taskRecord
	for _, t := range st.Tasks {
		if t.ContainerInstance == instanceARN {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ARN < out[j].ARN })
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
