// Package v1alpha1 holds ecsd's typed objects: the ECS side's desired state (Spec) and the
// engine's observed state (Status) for tasks, containers, images, ENI attachments and the
// instance itself. They are Kubernetes-shaped so that client-go informers, controller-runtime
// controllers and kubectl work on them unchanged.
//
// +kubebuilder:object:generate=true
// +groupName=ecs.ecsd.io
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the API group and version of every ecsd object.
	GroupVersion = schema.GroupVersion{Group: "ecs.ecsd.io", Version: "v1alpha1"}

	// SchemeBuilder registers the ecsd types with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the ecsd types to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// Namespace is the one namespace every ecsd object lives in. ECS has no namespaces; a fixed
// one keeps object keys stable and lets kubectl and the cache treat the kinds uniformly.
const Namespace = "ecs"

// Labels and annotations ecsd puts on its objects and on containerd containers.
const (
	LabelTaskARN       = "com.amazonaws.ecs.task-arn"
	LabelContainerName = "com.amazonaws.ecs.container-name"
	LabelFamily        = "com.amazonaws.ecs.task-definition-family"
	LabelRevision      = "com.amazonaws.ecs.task-definition-version"
	LabelCluster       = "com.amazonaws.ecs.cluster"
	LabelTaskName      = "ecs.ecsd.io/task"
	LabelAgentVersion  = "ecs.ecsd.io/agent-version"
	// LabelNamespaceHolder marks the runtime container that holds the shared PID and IPC
	// namespaces of a task with pidMode or ipcMode "task"; its value is the task's name.
	// It is no task container: adoption leaves it to the task-namespace step.
	LabelNamespaceHolder = "ecs.ecsd.io/namespace-holder"

	// AnnotationAdopted is set on objects the agent rebuilt from containerd after losing
	// them (a damaged checkpoint): when, and whether from the record kept with the
	// containers or, failing that, only to stop the task.
	AnnotationAdopted = "ecs.ecsd.io/adopted"
)
