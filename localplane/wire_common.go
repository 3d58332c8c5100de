package localplane

// Shapes shared by several ECS operations. JSON keys are the ECS model's member names.

// tag is a resource tag.
type tag struct {
	Key   string `json:"key,omitempty"`
	Value string `json:"value,omitempty"`
}

// keyValuePair is an environment variable or similar name/value pair.
type keyValuePair struct {
	Name  string `json:"name,omitempty"`
	Value string `json:"value,omitempty"`
}

// attribute is a container instance attribute.
type attribute struct {
	Name       string `json:"name"`
	Value      string `json:"value,omitempty"`
	TargetType string `json:"targetType,omitempty"`
	TargetID   string `json:"targetId,omitempty"`
}

// resource is a registered or remaining container instance resource. Real ECS returns
// every numeric member, zero or not, so these have no omitempty.
type resource struct {
	Name           string   `json:"name"`
	Type           string   `json:"type"`
	DoubleValue    float64  `json:"doubleValue"`
	LongValue      int64    `json:"longValue"`
	IntegerValue   int32    `json:"integerValue"`
	StringSetValue []string `json:"stringSetValue,omitzero"`
}

// failure is one entry of a response's failures list.
type failure struct {
	Arn    string `json:"arn,omitempty"`
	Reason string `json:"reason,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// versionInfo describes the agent of a container instance.
type versionInfo struct {
	AgentVersion  string `json:"agentVersion,omitempty"`
	AgentHash     string `json:"agentHash,omitempty"`
	DockerVersion string `json:"dockerVersion,omitempty"`
}

// platformDevice is a GPU or other device of a container instance.
type platformDevice struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

// paging are the pagination members of the List operations.
type paging struct {
	NextToken  string `json:"nextToken,omitempty"`
	MaxResults *int32 `json:"maxResults,omitempty"`
}
