package main

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/config"
	"github.com/ecsd/ecsd/controlplane/ecsapi"
	"github.com/ecsd/ecsd/internal/capability"
	"github.com/ecsd/ecsd/internal/version"
	"github.com/ecsd/ecsd/store"
)

// Store metadata keys, the reference agent's names.
const (
	metaInstanceARN      = "container-instance-arn"
	metaCluster          = "cluster-name"
	metaEC2InstanceID    = "ec2-instance-id"
	metaAvailabilityZone = "availability-zone"
	metaAgentVersion     = "agent-version"
)

// instanceName is the name of the one Instance object.
const instanceName = "instance"

// identity is what registration needs from IMDS (and, with
// ECS_CONTAINER_INSTANCE_PROPAGATE_TAGS_FROM=ec2_instance, EC2).
type identity struct {
	document, signature, instanceID string
	// ec2Tags are the instance's EC2 tags to register under the configured ones (nil
	// unless propagated).
	ec2Tags map[string]string
}

// registerInstance registers (or re-registers with the saved ARN) and records the result
// in the store's metadata and the Instance object.
func registerInstance(ctx context.Context, c *ecsapi.Client, st *store.Store, cfg *config.Config, host capability.Host, id identity, log logr.Logger) (ecsapi.Registered, error) {
	savedARN, _, err := st.GetMeta(metaInstanceARN)
	if err != nil {
		return ecsapi.Registered{}, err
	}
	savedCluster, _, err := st.GetMeta(metaCluster)
	if err != nil {
		return ecsapi.Registered{}, err
	}
	savedInstance, _, err := st.GetMeta(metaEC2InstanceID)
	if err != nil {
		return ecsapi.Registered{}, err
	}
	keepCopy := cfg.Checkpoint.Enabled() && cfg.DataDir != ""
	if savedARN == "" && keepCopy {
		// The checkpoint has no registration (it was damaged and moved aside, or deleted):
		// the copy kept next to it still knows which instance this is.
		switch r, err := loadRegistration(cfg.DataDir); {
		case err != nil:
			log.Error(err, "cannot use the saved registration; registering as a new container instance",
				"file", filepath.Join(cfg.DataDir, registrationFile))
		case r != nil:
			savedARN, savedCluster, savedInstance = r.ContainerInstanceARN, r.Cluster, r.EC2InstanceID
			log.Info("the checkpoint has no registration; re-registering with the container instance ARN saved in "+registrationFile,
				"containerInstance", savedARN, "file", filepath.Join(cfg.DataDir, registrationFile))
		}
	}
	if savedARN != "" && id.instanceID != "" && savedInstance != "" && savedInstance != id.instanceID {
		// A data directory carried over to another instance: its ARN belongs elsewhere.
		log.Info("saved state is from another EC2 instance; registering anew", "saved", savedInstance, "current", id.instanceID)
		savedARN = ""
	}
	if savedARN != "" && savedCluster != "" && savedCluster != cfg.Cluster {
		return ecsapi.Registered{}, fmt.Errorf("%w: data mismatch; saved cluster %q does not match configured cluster %q", errTerminal, savedCluster, cfg.Cluster)
	}
	resources, err := ecsapi.HostResources(int64(cfg.ReservedMemory), cfg.ReservedPorts, cfg.ReservedPortsUDP)
	if err != nil {
		return ecsapi.Registered{}, err
	}
	// Every attribute is a promise ECS places tasks by: the capability table sends one
	// exactly when its feature works with this configuration on this host.
	attrs := capability.Attributes(cfg, host)
	if savedARN == "" {
		// Custom attributes only on first registration, as the reference agent does.
		maps.Copy(attrs, cfg.InstanceAttributes)
	}
	in := ecsapi.Registration{
		Cluster:              cfg.Cluster,
		ContainerInstanceARN: savedARN,
		Resources:            resources,
		Attributes:           attrs,
		Tags:                 registrationTags(cfg, id),
		IdentityDocument:     id.document,
		IdentitySignature:    id.signature,
	}
	reg, err := c.Register(ctx, in)
	if err != nil && ecsapi.IsClusterNotFound(err) && cfg.Cluster == config.DefaultCluster {
		// As the reference agent: the default cluster is created on demand, any other
		// cluster must exist.
		log.Info("creating the default cluster")
		if err = c.CreateCluster(ctx, cfg.Cluster); err == nil {
			reg, err = c.Register(ctx, in)
		}
	}
	if err != nil {
		if ecsapi.Classify(err) == ecsapi.Terminal {
			return reg, fmt.Errorf("%w: %w", errTerminal, err)
		}
		return reg, err
	}
	for k, v := range map[string]string{
		metaInstanceARN: reg.ContainerInstanceARN, metaCluster: cfg.Cluster, metaEC2InstanceID: id.instanceID,
		metaAvailabilityZone: reg.AvailabilityZone, metaAgentVersion: version.Version,
	} {
		if err := st.PutMeta(k, v); err != nil {
			return reg, err
		}
	}
	if keepCopy {
		err := saveRegistration(cfg.DataDir, savedRegistration{
			ContainerInstanceARN: reg.ContainerInstanceARN, Cluster: cfg.Cluster, EC2InstanceID: id.instanceID,
			AvailabilityZone: reg.AvailabilityZone, AgentVersion: version.Version, RegisteredAt: time.Now().UTC(),
		})
		if err != nil {
			// The checkpoint has it; only a later loss of the checkpoint would cost the ARN.
			log.Error(err, "cannot keep a copy of the registration outside the checkpoint")
		}
	}
	inst := &api.Instance{ObjectMeta: metav1.ObjectMeta{Name: instanceName, Namespace: api.Namespace}, Spec: api.InstanceSpec{Cluster: cfg.Cluster}}
	if err := st.CreateOrUpdateAll(ctx, inst); err != nil {
		return reg, err
	}
	inst.Status = api.InstanceStatus{
		ContainerInstanceARN: reg.ContainerInstanceARN,
		EC2InstanceID:        id.instanceID,
		AvailabilityZone:     reg.AvailabilityZone,
		Attributes:           reg.Attributes,
		RegisteredAt:         ptr.To(metav1.NewTime(time.Now())),
	}
	for _, r := range resources {
		inst.Status.Resources = append(inst.Status.Resources, api.Resource{Name: ptr.Deref(r.Name, ""), Type: ptr.Deref(r.Type, ""),
			IntegerValue: int64(r.IntegerValue), StringSet: r.StringSetValue})
	}
	if err := st.DirectClient().Status().Update(ctx, inst); err != nil {
		return reg, fmt.Errorf("record the instance: %w", err)
	}
	log.Info("registered", "containerInstance", reg.ContainerInstanceARN, "cluster", cfg.Cluster, "reregistered", savedARN != "")
	return reg, nil
}

// setInstanceConnected records a session's connection state on the Instance object.
func setInstanceConnected(ctx context.Context, st *store.Store, set func(*api.InstanceStatus)) error {
	c := st.DirectClient()
	return store.RetryOnConflict(func() error {
		inst := &api.Instance{}
		if err := c.Get(ctx, keyOf(instanceName), inst); err != nil {
			return err
		}
		set(&inst.Status)
		return c.Status().Update(ctx, inst)
	})
}
