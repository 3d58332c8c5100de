package localplane

// Launch types a task can have here. ECS also has FARGATE and MANAGED_INSTANCES, which
// need capacity this plane does not model.
const (
	launchEC2      = "EC2"
	launchExternal = "EXTERNAL"
)

// attrExternal is the attribute an agent run with ECS_EXTERNAL=true (ECS Anywhere)
// registers with. ECS places EXTERNAL tasks only on such instances, and EC2 tasks only
// on the others.
const attrExternal = "ecs.capability.external"

// instanceLaunchType is the launch type of the tasks inst can run.
func instanceLaunchType(inst *instanceRecord) string {
	if containsAttr(inst.Attributes, attrExternal) {
		return launchExternal
	}
	return launchEC2
}

// launchType is the task's launch type; records of earlier versions have none and were
// all EC2.
func (t *taskRecord) launchType() string {
	if t.LaunchType == "" {
		return launchEC2
	}
	return t.LaunchType
}

// checkCompatibility refuses a definition whose requiresCompatibilities excludes the
// launch type, as ECS does.
func checkCompatibility(def *taskDefinition, launchType string) error {
	if len(def.RequiresCompatibilities) == 0 || contains(def.RequiresCompatibilities, launchType) {
		return nil
	}
	return errInvalidParameter("Task definition does not support launch_type %s.", launchType)
}
