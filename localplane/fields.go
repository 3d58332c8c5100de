package localplane

import (
	"runtime"
	"strings"
)

// Every member of the ECS model's task definition shapes (RegisterTaskDefinitionRequest,
// TaskDefinition and the shapes beneath them) is in taskDefinitionFields, so that nothing
// a user writes in a task definition is silently ignored: a member either takes effect
// (in the agent, or in this control plane) or RegisterTaskDefinition refuses it with a
// ClientException that names it and says why. fields_test.go walks the models
// (testdata/ecs-api-2.json, testdata/ecs-taskdef-smithy.json) and fails on a member that
// is not here, on an effect whose test does not exist, and on a refusal the plane does
// not make.

// fieldKind is what ecsd does with a model member.
type fieldKind string

const (
	// fieldApplied: the agent applies it to the task or its containers.
	fieldApplied fieldKind = "applied"
	// fieldPlane: the control plane acts on it (revisions, ARNs, placement, launch
	// type, tags) or computes it (output members), and returns it as ECS does.
	fieldPlane fieldKind = "plane"
	// fieldRefused: RegisterTaskDefinition refuses a definition that sets it.
	fieldRefused fieldKind = "refused"
)

// field is one member's entry.
type field struct {
	kind fieldKind
	// tests are the tests that show the effect (applied, plane): test function names,
	// each of which must exist in the repository.
	tests []string
	// refusal says why the member (refused) or some of its values (applied, plane) are
	// refused; the ClientException quotes it.
	refusal string
}

// Tests that show a container setting end to end: the plane renders it into the ACS
// payload and the agent's translation turns it into the container spec
// (TestPayloadTranslation); the runtime applies the spec, checked from inside a
// running container (TestContainerConfig).
var (
	viaPayload = "TestPayloadTranslation"
	inside     = "TestContainerConfig"
)

// Refusal reasons, quoted in the ClientException.
const (
	whyProxy         = "App Mesh proxy configuration needs the proxy's traffic redirection set up by the agent (the aws-appmesh CNI plugin), which ecsd does not do"
	whyInference     = "Elastic Inference accelerators are not supported by ecsd"
	whyEphemeral     = "ephemeralStorage sizes a Fargate task's storage; ecsd tasks use the instance's disk, so the size would not be honoured"
	whyPlacement     = "the local control plane does not evaluate cluster query language expressions, so the constraint would be ignored"
	whyEFSAuth       = "EFS access points and IAM authorization travel in the EFS mount helper's TLS client certificate, which ecsd does not make"
	whyFSx           = "FSx for Windows File Server volumes are for Windows containers; ecsd runs Linux containers"
	whyAtLaunch      = "volumes configured at launch are EBS volumes that ECS attaches, which ecsd does not attach"
	whyScope         = "the model's scopes are task and shared"
	whyDriver        = "ecsd has no Docker volume plugins; only the local driver"
	whyDriverOpts    = "the local driver takes type, o and device"
	whyNoNetwork     = "a container without networking is not implemented; use networkMode none for the task"
	whyInteractive   = "ecsd does not keep a container's stdin open"
	whyTTY           = "ecsd does not allocate a terminal; the container's logger reads its stdout and stderr pipes"
	whyResources     = "GPUs and inference accelerators are not supported by ecsd"
	whyFirelens      = "FireLens log routing is not implemented by ecsd"
	whyCredSpecs     = "gMSA credential specs need the credentials-fetcher daemon, which ecsd does not run"
	whySwap          = "ecsd does not set swap limits on containers"
	whyOSFamily      = "ecsd runs Linux containers only"
	whyArchitecture  = "the local control plane places tasks only on agents of this host"
	whyCompatibility = "the model's compatibilities are EC2, FARGATE, EXTERNAL and MANAGED_INSTANCES"
)

// taskDefinitionFields is the coverage table, keyed "Shape.member" as in the model.
func taskDefinitionFields() map[string]field {
	applied := func(tests ...string) field { return field{kind: fieldApplied, tests: tests} }
	plane := func(tests ...string) field { return field{kind: fieldPlane, tests: tests} }
	refused := func(why string) field { return field{kind: fieldRefused, refusal: why} }
	partly := func(f field, why string) field { f.refusal = why; return f }
	return map[string]field{
		// RegisterTaskDefinitionRequest / TaskDefinition.
		"RegisterTaskDefinitionRequest.family":                  plane("TestTaskDefinitions", viaPayload),
		"RegisterTaskDefinitionRequest.taskRoleArn":             applied("TestACSCredentials", "TestTaskMetadataAndCredentials"),
		"RegisterTaskDefinitionRequest.executionRoleArn":        applied("TestFieldRendering", "TestPullWithECRToken"),
		"RegisterTaskDefinitionRequest.networkMode":             applied(viaPayload, "TestNetworkModes"),
		"RegisterTaskDefinitionRequest.containerDefinitions":    applied(viaPayload, "TestAgentRunsTasksAndSurvivesRestart"),
		"RegisterTaskDefinitionRequest.volumes":                 applied(viaPayload, "TestSpecMounts"),
		"RegisterTaskDefinitionRequest.placementConstraints":    refused(whyPlacement),
		"RegisterTaskDefinitionRequest.requiresCompatibilities": partly(plane("TestLaunchTypes"), whyCompatibility),
		"RegisterTaskDefinitionRequest.cpu":                     applied(viaPayload, "TestTaskCgroupCarriesTaskLimits", "TestRunTaskPlacement"),
		"RegisterTaskDefinitionRequest.memory":                  applied(viaPayload, "TestTaskCgroupCarriesTaskLimits", "TestRunTaskPlacement"),
		"RegisterTaskDefinitionRequest.tags":                    plane("TestListTagsForResource"),
		"RegisterTaskDefinitionRequest.pidMode":                 applied("TestTaskPIDAndIPCNamespaces"),
		"RegisterTaskDefinitionRequest.ipcMode":                 applied("TestTaskPIDAndIPCNamespaces"),
		"RegisterTaskDefinitionRequest.proxyConfiguration":      refused(whyProxy),
		"RegisterTaskDefinitionRequest.inferenceAccelerators":   refused(whyInference),
		"RegisterTaskDefinitionRequest.ephemeralStorage":        refused(whyEphemeral),
		"RegisterTaskDefinitionRequest.runtimePlatform":         partly(plane("TestRuntimePlatform"), whyArchitecture),

		// Output members: computed by the plane, returned by Describe/Register.
		"TaskDefinition.taskDefinitionArn":       plane("TestTaskDefinitions"),
		"TaskDefinition.containerDefinitions":    plane("TestTaskDefinitions"),
		"TaskDefinition.family":                  plane("TestTaskDefinitions"),
		"TaskDefinition.taskRoleArn":             plane("TestTaskDefinitionEcho"),
		"TaskDefinition.executionRoleArn":        plane("TestTaskDefinitionEcho"),
		"TaskDefinition.networkMode":             plane("TestTaskDefinitionEcho"),
		"TaskDefinition.revision":                plane("TestTaskDefinitions"),
		"TaskDefinition.volumes":                 plane("TestTaskDefinitionEcho"),
		"TaskDefinition.status":                  plane("TestTaskDefinitions"),
		"TaskDefinition.requiresAttributes":      plane("TestRequiresAttributes"),
		"TaskDefinition.placementConstraints":    refused(whyPlacement),
		"TaskDefinition.compatibilities":         plane("TestTaskDefinitionEcho"),
		"TaskDefinition.runtimePlatform":         plane("TestTaskDefinitionEcho"),
		"TaskDefinition.requiresCompatibilities": plane("TestTaskDefinitionEcho"),
		"TaskDefinition.cpu":                     plane("TestTaskDefinitionEcho"),
		"TaskDefinition.memory":                  plane("TestTaskDefinitionEcho"),
		"TaskDefinition.inferenceAccelerators":   refused(whyInference),
		"TaskDefinition.pidMode":                 plane("TestTaskDefinitionEcho"),
		"TaskDefinition.ipcMode":                 plane("TestTaskDefinitionEcho"),
		"TaskDefinition.proxyConfiguration":      refused(whyProxy),
		"TaskDefinition.registeredAt":            plane("TestTaskDefinitions"),
		"TaskDefinition.deregisteredAt":          plane("TestTaskDefinitionEcho"),
		"TaskDefinition.registeredBy":            plane("TestTaskDefinitionEcho"),
		"TaskDefinition.ephemeralStorage":        refused(whyEphemeral),
		"Attribute.name":                         plane("TestRequiresAttributes"),
		"Attribute.value":                        plane("TestRequiresAttributes"),
		"Attribute.targetType":                   plane("TestRequiresAttributes"),
		"Attribute.targetId":                     plane("TestRequiresAttributes"),
		"Tag.key":                                plane("TestListTagsForResource"),
		"Tag.value":                              plane("TestListTagsForResource"),

		"TaskDefinitionPlacementConstraint.type":       refused(whyPlacement),
		"TaskDefinitionPlacementConstraint.expression": refused(whyPlacement),
		"ProxyConfiguration.type":                      refused(whyProxy),
		"ProxyConfiguration.containerName":             refused(whyProxy),
		"ProxyConfiguration.properties":                refused(whyProxy),
		"InferenceAccelerator.deviceName":              refused(whyInference),
		"InferenceAccelerator.deviceType":              refused(whyInference),
		"EphemeralStorage.sizeInGiB":                   refused(whyEphemeral),
		"RuntimePlatform.cpuArchitecture":              partly(plane("TestRuntimePlatform"), whyArchitecture),
		"RuntimePlatform.operatingSystemFamily":        partly(plane("TestRuntimePlatform"), whyOSFamily),

		// Volumes.
		"Volume.name":                                                  applied(viaPayload, "TestSpecMounts"),
		"Volume.host":                                                  applied(viaPayload, "TestSpecMounts"),
		"HostVolumeProperties.sourcePath":                              applied(viaPayload, "TestSpecMounts"),
		"Volume.dockerVolumeConfiguration":                             applied(viaPayload, "TestSpecMounts"),
		"DockerVolumeConfiguration.scope":                              partly(applied(viaPayload, "TestDockerVolumeShared", "TestTaskVolumes"), whyScope),
		"DockerVolumeConfiguration.autoprovision":                      applied("TestDockerVolumeShared", "TestTaskVolumes"),
		"DockerVolumeConfiguration.driver":                             partly(applied("TestFieldRendering"), whyDriver),
		"DockerVolumeConfiguration.driverOpts":                         partly(applied("TestDockerVolumeLocalNFS", "TestTaskVolumes"), whyDriverOpts),
		"DockerVolumeConfiguration.labels":                             applied("TestSharedVolumeMatch"),
		"Volume.efsVolumeConfiguration":                                applied("TestEFSVolume", "TestTaskVolumes"),
		"EFSVolumeConfiguration.fileSystemId":                          applied("TestEFSVolume", "TestTaskVolumes"),
		"EFSVolumeConfiguration.rootDirectory":                         applied("TestEFSVolume", "TestTaskVolumes"),
		"EFSVolumeConfiguration.transitEncryption":                     applied("TestEFSVolume", "TestTaskVolumes"),
		"EFSVolumeConfiguration.transitEncryptionPort":                 applied("TestTaskVolumes"),
		"EFSVolumeConfiguration.authorizationConfig":                   partly(applied("TestVolumesAccepted"), whyEFSAuth),
		"EFSAuthorizationConfig.accessPointId":                         refused(whyEFSAuth),
		"EFSAuthorizationConfig.iam":                                   partly(applied("TestVolumesAccepted"), whyEFSAuth),
		"Volume.fsxWindowsFileServerVolumeConfiguration":               refused(whyFSx),
		"FSxWindowsFileServerVolumeConfiguration.fileSystemId":         refused(whyFSx),
		"FSxWindowsFileServerVolumeConfiguration.rootDirectory":        refused(whyFSx),
		"FSxWindowsFileServerVolumeConfiguration.authorizationConfig":  refused(whyFSx),
		"FSxWindowsFileServerAuthorizationConfig.credentialsParameter": refused(whyFSx),
		"FSxWindowsFileServerAuthorizationConfig.domain":               refused(whyFSx),
		"Volume.configuredAtLaunch":                                    refused(whyAtLaunch),

		// ContainerDefinition.
		"ContainerDefinition.name":                   applied(viaPayload, "TestAgentRunsTasksAndSurvivesRestart"),
		"ContainerDefinition.image":                  applied(viaPayload, "TestAgentRunsTasksAndSurvivesRestart"),
		"ContainerDefinition.repositoryCredentials":  applied("TestFieldRendering", "TestPullWithSecretsManagerCredentials"),
		"RepositoryCredentials.credentialsParameter": applied("TestFieldRendering", "TestPullWithSecretsManagerCredentials"),
		"ContainerDefinition.cpu":                    applied(viaPayload, inside, "TestRunTaskPlacement"),
		"ContainerDefinition.memory":                 applied(viaPayload, "TestOOMKilled", "TestRunTaskPlacement"),
		"ContainerDefinition.memoryReservation":      applied(viaPayload, inside),
		"ContainerDefinition.links":                  applied("TestFieldRendering", "TestBuildFiles"),
		"ContainerDefinition.portMappings":           applied(viaPayload, "TestBridgeTaskPorts"),
		"PortMapping.containerPort":                  applied(viaPayload, "TestBridgeTaskPorts"),
		"PortMapping.hostPort":                       applied(viaPayload, "TestBridgeStaticPorts"),
		"PortMapping.protocol":                       applied("TestFieldRendering", "TestBridgeStaticPorts"),
		"PortMapping.containerPortRange":             applied("TestFieldRendering", "TestBridgePortRange"),
		// Only Service Connect reads these (in ECS too); the plane keeps and returns them.
		"PortMapping.name":                            plane("TestTaskDefinitionEcho"),
		"PortMapping.appProtocol":                     plane("TestTaskDefinitionEcho"),
		"ContainerDefinition.essential":               applied(viaPayload, "TestEssentialExitStopsTask"),
		"ContainerDefinition.restartPolicy":           applied(viaPayload, "TestRestartPolicyRestartsInPlace"),
		"ContainerRestartPolicy.enabled":              applied(viaPayload, "TestRestartPolicyRestartsInPlace"),
		"ContainerRestartPolicy.ignoredExitCodes":     applied(viaPayload, "TestRestartPolicyRestartsInPlace"),
		"ContainerRestartPolicy.restartAttemptPeriod": applied(viaPayload, "TestRestartPolicyRestartsInPlace"),
		"ContainerDefinition.entryPoint":              applied(viaPayload, inside),
		"ContainerDefinition.command":                 applied(viaPayload, inside),
		"ContainerDefinition.environment":             applied(viaPayload, inside),
		"KeyValuePair.name":                           applied(viaPayload, inside),
		"KeyValuePair.value":                          applied(viaPayload, inside),
		"ContainerDefinition.environmentFiles":        applied("TestSecretsAndEnvironmentFiles"),
		"EnvironmentFile.value":                       applied("TestSecretsAndEnvironmentFiles"),
		"EnvironmentFile.type":                        applied("TestSecretsAndEnvironmentFiles"),
		"ContainerDefinition.mountPoints":             applied(viaPayload, "TestSpecMounts"),
		"MountPoint.sourceVolume":                     applied(viaPayload, "TestSpecMounts"),
		"MountPoint.containerPath":                    applied(viaPayload, "TestSpecMounts"),
		"MountPoint.readOnly":                         applied(viaPayload, "TestSpecMounts"),
		"ContainerDefinition.volumesFrom":             applied(viaPayload, "TestSpecMounts"),
		"VolumeFrom.sourceContainer":                  applied(viaPayload, "TestSpecMounts"),
		"VolumeFrom.readOnly":                         applied(viaPayload, "TestSpecMounts"),
		"ContainerDefinition.linuxParameters":         applied(viaPayload, inside),
		"LinuxParameters.capabilities":                applied(viaPayload, inside),
		"KernelCapabilities.add":                      applied(viaPayload, inside),
		"KernelCapabilities.drop":                     applied(viaPayload, inside),
		"LinuxParameters.devices":                     applied("TestFieldRendering", inside),
		"Device.hostPath":                             applied("TestFieldRendering", inside),
		"Device.containerPath":                        applied("TestFieldRendering", inside),
		"Device.permissions":                          applied("TestFieldRendering", inside),
		"LinuxParameters.initProcessEnabled":          applied(viaPayload, "TestSecurityOptionsAndInit"),
		"LinuxParameters.sharedMemorySize":            applied(viaPayload, inside),
		"LinuxParameters.tmpfs":                       applied(viaPayload, inside),
		"Tmpfs.containerPath":                         applied(viaPayload, inside),
		"Tmpfs.size":                                  applied(viaPayload, inside),
		"Tmpfs.mountOptions":                          applied(viaPayload, inside),
		"LinuxParameters.maxSwap":                     refused(whySwap),
		"LinuxParameters.swappiness":                  refused(whySwap),
		"ContainerDefinition.secrets":                 applied("TestSecretsAndEnvironmentFiles"),
		"Secret.name":                                 applied("TestSecretsAndEnvironmentFiles"),
		"Secret.valueFrom":                            applied("TestSecretsAndEnvironmentFiles"),
		"ContainerDefinition.dependsOn":               applied(viaPayload, "TestDependsOnOrdersContainers"),
		"ContainerDependency.containerName":           applied(viaPayload, "TestDependsOnOrdersContainers"),
		"ContainerDependency.condition":               applied(viaPayload, "TestDependsOnHealthyAndComplete"),
		"ContainerDefinition.startTimeout":            applied(viaPayload, "TestDependsOnHealthyAndComplete"),
		"ContainerDefinition.stopTimeout":             applied(viaPayload, "TestStopTimeoutEscalatesToSIGKILL"),
		"ContainerDefinition.hostname":                applied(viaPayload, inside),
		"ContainerDefinition.user":                    applied(viaPayload, inside),
		"ContainerDefinition.workingDirectory":        applied(viaPayload, inside),
		"ContainerDefinition.disableNetworking":       refused(whyNoNetwork),
		"ContainerDefinition.privileged":              applied("TestFieldRendering", inside),
		"ContainerDefinition.readonlyRootFilesystem":  applied(viaPayload, inside),
		"ContainerDefinition.dnsServers":              applied(viaPayload, "TestBuildFiles"),
		"ContainerDefinition.dnsSearchDomains":        applied(viaPayload, "TestBuildFiles"),
		"ContainerDefinition.extraHosts":              applied(viaPayload, "TestBuildFiles"),
		"HostEntry.hostname":                          applied(viaPayload, "TestBuildFiles"),
		"HostEntry.ipAddress":                         applied(viaPayload, "TestBuildFiles"),
		"ContainerDefinition.dockerSecurityOptions":   applied("TestSecurityOptionsAndInit"),
		"ContainerDefinition.interactive":             refused(whyInteractive),
		"ContainerDefinition.pseudoTerminal":          refused(whyTTY),
		"ContainerDefinition.dockerLabels":            applied(viaPayload, "TestContainerRecord"),
		"ContainerDefinition.ulimits":                 applied(viaPayload, inside),
		"Ulimit.name":                                 applied(viaPayload, inside),
		"Ulimit.softLimit":                            applied(viaPayload, inside),
		"Ulimit.hardLimit":                            applied(viaPayload, inside),
		"ContainerDefinition.logConfiguration":        applied(viaPayload, "TestAWSLogs", "TestLogRotationThroughTheAgent"),
		"LogConfiguration.logDriver":                  applied(viaPayload, "TestAWSLogs", "TestLogRotationThroughTheAgent"),
		"LogConfiguration.options":                    applied(viaPayload, "TestAWSLogs", "TestLogRotationThroughTheAgent"),
		"LogConfiguration.secretOptions":              applied("TestE2EProductionTaskDefinition"),
		"ContainerDefinition.healthCheck":             applied(viaPayload, "TestHealthCheckTurnsHealthyThenUnhealthy"),
		"HealthCheck.command":                         applied(viaPayload, "TestHealthCheckTurnsHealthyThenUnhealthy"),
		"HealthCheck.interval":                        applied(viaPayload, "TestHealthCheckTurnsHealthyThenUnhealthy"),
		"HealthCheck.timeout":                         applied(viaPayload, "TestHealthCheckTurnsHealthyThenUnhealthy"),
		"HealthCheck.retries":                         applied(viaPayload, "TestHealthCheckTurnsHealthyThenUnhealthy"),
		"HealthCheck.startPeriod":                     applied(viaPayload, "TestHealthCheckTurnsHealthyThenUnhealthy"),
		"ContainerDefinition.systemControls":          applied(viaPayload, inside),
		"SystemControl.namespace":                     applied(viaPayload, inside),
		"SystemControl.value":                         applied(viaPayload, inside),
		"ContainerDefinition.resourceRequirements":    refused(whyResources),
		"ResourceRequirement.type":                    refused(whyResources),
		"ResourceRequirement.value":                   refused(whyResources),
		"ContainerDefinition.firelensConfiguration":   refused(whyFirelens),
		"FirelensConfiguration.type":                  refused(whyFirelens),
		"FirelensConfiguration.options":               refused(whyFirelens),
		"ContainerDefinition.credentialSpecs":         refused(whyCredSpecs),
	}
}

// checkFieldSupport refuses a registration that sets a member ecsd would not honour
// (see taskDefinitionFields), naming the member and saying why. Checked members are in
// the order of the model.
func checkFieldSupport(in *registerTaskDefinitionRequest) error {
	if len(in.PlacementConstraints) > 0 {
		return refuseTaskField("placementConstraints", whyPlacement)
	}
	for _, c := range in.RequiresCompatibilities {
		switch c {
		case "EC2", "FARGATE", "EXTERNAL", "MANAGED_INSTANCES":
		default:
			return errClient("Invalid requiresCompatibilities value %q: %s.", c, whyCompatibility)
		}
	}
	if isSet(in.ProxyConfiguration) {
		return refuseTaskField("proxyConfiguration", whyProxy)
	}
	if isSet(in.InferenceAccelerators) {
		return refuseTaskField("inferenceAccelerators", whyInference)
	}
	if isSet(in.EphemeralStorage) {
		return refuseTaskField("ephemeralStorage", whyEphemeral)
	}
	if rp := in.RuntimePlatform; rp != nil {
		if err := checkRuntimePlatform(rp); err != nil {
			return err
		}
	}
	for _, v := range in.Volumes {
		if err := checkVolumeSupport(&v); err != nil {
			return err
		}
	}
	for i := range in.ContainerDefinitions {
		if err := checkContainerSupport(&in.ContainerDefinitions[i]); err != nil {
			return err
		}
	}
	return nil
}

// checkRuntimePlatform accepts the Linux operating system family and this host's CPU
// architecture: the local plane runs inside the agent, so every instance it places on
// is this host.
func checkRuntimePlatform(rp *runtimePlatform) error {
	switch rp.OperatingSystemFamily {
	case "", "LINUX":
	default:
		return errClient("runtimePlatform.operatingSystemFamily %s is not supported by ecsd: %s.", rp.OperatingSystemFamily, whyOSFamily)
	}
	host := hostCPUArchitecture()
	switch rp.CPUArchitecture {
	case "", host:
	case "X86_64", "ARM64":
		return errClient("runtimePlatform.cpuArchitecture %s is not supported here: %s, which is %s.", rp.CPUArchitecture, whyArchitecture, host)
	default:
		return errClient("Invalid runtimePlatform.cpuArchitecture %q: the model's values are X86_64 and ARM64.", rp.CPUArchitecture)
	}
	return nil
}

// hostCPUArchitecture is the model's name for this host's architecture.
func hostCPUArchitecture() string {
	switch runtime.GOARCH {
	case "amd64":
		return "X86_64"
	case "arm64":
		return "ARM64"
	}
	return strings.ToUpper(runtime.GOARCH)
}

func checkVolumeSupport(v *volume) error {
	refuse := func(member, why string) error {
		return errClient("Invalid setting for volume '%s'. %s is not supported by ecsd: %s.", v.Name, member, why)
	}
	switch {
	case isSet(v.FSxWindowsFileServerVolumeConfiguration):
		return refuse("fsxWindowsFileServerVolumeConfiguration", whyFSx)
	case v.ConfiguredAtLaunch != nil && *v.ConfiguredAtLaunch:
		return refuse("configuredAtLaunch", whyAtLaunch)
	}
	if e := v.EFSVolumeConfiguration; e != nil && e.AuthorizationConfig != nil {
		if e.AuthorizationConfig.AccessPointID != "" {
			return refuse("efsVolumeConfiguration.authorizationConfig.accessPointId", whyEFSAuth)
		}
		if e.AuthorizationConfig.IAM == "ENABLED" {
			return refuse("efsVolumeConfiguration.authorizationConfig.iam ENABLED", whyEFSAuth)
		}
	}
	if dc := v.DockerVolumeConfiguration; dc != nil {
		switch {
		case dc.Scope != "" && dc.Scope != "task" && dc.Scope != "shared":
			return refuse("dockerVolumeConfiguration.scope "+dc.Scope, whyScope)
		case dc.Driver != "" && dc.Driver != "local":
			return refuse("dockerVolumeConfiguration.driver "+dc.Driver, whyDriver)
		}
		for k := range dc.DriverOpts {
			if k != "type" && k != "o" && k != "device" {
				return refuse("dockerVolumeConfiguration.driverOpts "+k, whyDriverOpts)
			}
		}
	}
	return nil
}

func checkContainerSupport(c *containerDefinition) error {
	refuse := func(member, why string) error {
		return errClient("Invalid setting for container '%s'. %s is not supported by ecsd: %s.", c.Name, member, why)
	}
	switch {
	case c.DisableNetworking != nil && *c.DisableNetworking:
		return refuse("disableNetworking", whyNoNetwork)
	case c.Interactive != nil && *c.Interactive:
		return refuse("interactive", whyInteractive)
	case c.PseudoTerminal != nil && *c.PseudoTerminal:
		return refuse("pseudoTerminal", whyTTY)
	case len(c.ResourceRequirements) > 0:
		return refuse("resourceRequirements (type "+c.ResourceRequirements[0].Type+")", whyResources)
	case c.FirelensConfiguration != nil:
		return refuse("firelensConfiguration", whyFirelens)
	case len(c.CredentialSpecs) > 0:
		return refuse("credentialSpecs", whyCredSpecs)
	}
	if lp := c.LinuxParameters; lp != nil {
		switch {
		case lp.MaxSwap != nil:
			return refuse("linuxParameters.maxSwap", whySwap)
		case lp.Swappiness != nil:
			return refuse("linuxParameters.swappiness", whySwap)
		}
	}
	return nil
}

// refuseTaskField is the ClientException for a task-level member ecsd does not honour.
func refuseTaskField(member, why string) error {
	return errClient("%s is not supported by ecsd: %s.", member, why)
}
