package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	k8sruntime "k8s.io/apimachinery/pkg/runtime"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/config"
	"github.com/ecsd/ecsd/store"
)

// Exit codes of --check-state.
const (
	checkSound   = 0 // sound, or no checkpoint at all
	checkDamaged = 1 // the agent would move it aside (or quarantine records) at its next start
	checkFailed  = 2 // it could not be read
)

// checkpointFile is the checkpoint's name in ECS_DATADIR.
const checkpointFile = "ecsd.db"

// checkState implements --check-state [FILE]: it tells an operator what is in the
// checkpoint (integrity, schema, registration, tasks and containers with their statuses,
// quarantined records) without modifying it, from a copy, so it can run beside the agent.
func checkState(ctx context.Context, w io.Writer, args []string) int {
	var path string
	switch len(args) {
	case 0:
		cfg, _, err := config.Load(ctx)
		if err != nil {
			fmt.Fprintf(w, "configuration: %v\n", err)
			return checkFailed
		}
		if cfg.DataDir == "" {
			fmt.Fprintln(w, "no data directory (ECS_DATADIR) is configured: there is no checkpoint")
			return checkSound
		}
		path = filepath.Join(cfg.DataDir, checkpointFile)
	case 1:
		path = args[0]
	default:
		fmt.Fprintln(w, "usage: ecs-agent --check-state [FILE]")
		return checkFailed
	}
	scheme := k8sruntime.NewScheme()
	if err := api.AddToScheme(scheme); err != nil {
		fmt.Fprintln(w, err)
		return checkFailed
	}
	in, err := store.InspectCheckpoint(ctx, scheme, path)
	if err != nil {
		fmt.Fprintf(w, "checkpoint %s: cannot read it: %v\n", path, err)
		return checkFailed
	}
	return printInspection(w, in)
}

func printInspection(w io.Writer, in *store.Inspection) int {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	dir := filepath.Dir(in.Path)
	if !in.Exists {
		p("checkpoint %s: none (the agent starts with an empty one)", in.Path)
	} else {
		p("checkpoint %s: %d bytes, modified %s", in.Path, in.Size, in.ModTime.UTC().Format(time.RFC3339))
		if in.InUse {
			p("in use:     yes, by a running agent; read from a copy (a write in progress can make a copy look damaged: stop the agent for a definitive check)")
		} else {
			p("in use:     no")
		}
	}
	code := checkSound
	switch {
	case !in.Exists:
	case in.Integrity != nil:
		p("integrity:  DAMAGED: %v", in.Integrity)
		p("            the agent will move it aside as %s%s<UTC time> at its next start and adopt running containers from containerd", filepath.Base(in.Path), store.CorruptSuffix)
		code = checkDamaged
	default:
		p("integrity:  ok (structure, bbolt consistency check, %d-byte pages, txid %d)", in.PageSize, in.TxID)
	}
	if in.Exists && in.Integrity == nil {
		p("schema:     %s (resourceVersion %s)", orNone(in.Schema), orNone(in.ResourceVersion))
	}

	p("")
	p("registration in the checkpoint:")
	printRegistration(w, in.Meta)
	switch r, err := loadRegistration(dir); {
	case err != nil:
		p("registration in %s: unusable: %v", registrationFile, err)
	case r == nil:
		p("registration in %s: none", registrationFile)
	default:
		agree := ""
		if arn := in.Meta[metaInstanceARN]; arn != "" && arn != r.ContainerInstanceARN {
			agree = "  (DIFFERS from the checkpoint)"
		}
		p("registration in %s: %s, cluster %s, registered %s%s", registrationFile, r.ContainerInstanceARN, r.Cluster,
			r.RegisteredAt.UTC().Format(time.RFC3339), agree)
	}

	var tasks []*api.Task
	var ctrs []*api.Container
	others := map[string]int{}
	for _, o := range in.Objects {
		switch o := o.(type) {
		case *api.Task:
			tasks = append(tasks, o)
		case *api.Container:
			ctrs = append(ctrs, o)
		default:
			others[o.GetObjectKind().GroupVersionKind().Kind]++
		}
	}
	p("")
	p("tasks (%d):", len(tasks))
	if len(tasks) > 0 {
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  NAME\tFAMILY:REV\tDESIRED\tKNOWN\tSENT\tARN\tREASON")
		for _, t := range tasks {
			fmt.Fprintf(tw, "  %s\t%s:%s\t%s\t%s\t%s\t%s\t%s\n", t.Name, t.Spec.Family, t.Spec.Version, t.DesiredStatus(),
				t.Status.KnownStatus.OrNone(), t.Status.SentStatus.OrNone(), t.Spec.ARN, oneLine(t.Status.StoppedReason))
		}
		_ = tw.Flush()
	}
	p("")
	p("containers (%d):", len(ctrs))
	if len(ctrs) > 0 {
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  NAME\tTASK\tDESIRED\tKNOWN\tSENT\tEXIT\tRUNTIME ID\tREASON")
		for _, c := range ctrs {
			exit := "-"
			if c.Status.ExitCode != nil {
				exit = fmt.Sprint(*c.Status.ExitCode)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Name, c.Spec.TaskName, c.Status.DesiredStatus.OrNone(),
				c.Status.KnownStatus.OrNone(), c.Status.SentStatus.OrNone(), exit, orNone(c.Status.RuntimeID), oneLine(c.Status.Reason))
		}
		_ = tw.Flush()
	}
	for kind, n := range others {
		p("%s objects: %d", strings.ToLower(kind), n)
	}
	if len(in.Undecodable) > 0 {
		code = checkDamaged
		p("")
		p("undecodable records (%d; the next start quarantines them and adopts or stops their containers):", len(in.Undecodable))
		for _, r := range in.Undecodable {
			p("  %s (%d bytes): %s", r.Key, r.Size, r.Err)
		}
	}
	p("")
	p("quarantined records (%d):", len(in.Quarantined))
	for _, r := range in.Quarantined {
		p("  %s (%d bytes): %s", r.Key, r.Size, r.Err)
	}
	if len(in.MovedAside) > 0 {
		p("")
		p("damaged checkpoints moved aside earlier (%d):", len(in.MovedAside))
		for _, f := range in.MovedAside {
			p("  %s", f)
		}
	}
	return code
}

func printRegistration(w io.Writer, meta map[string]string) {
	if meta[metaInstanceARN] == "" {
		fmt.Fprintln(w, "  none")
		return
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	for _, kv := range [][2]string{
		{"container instance", meta[metaInstanceARN]}, {"cluster", meta[metaCluster]}, {"EC2 instance", meta[metaEC2InstanceID]},
		{"availability zone", meta[metaAvailabilityZone]}, {"agent version", meta[metaAgentVersion]},
	} {
		fmt.Fprintf(tw, "  %s:\t%s\n", kv[0], orNone(kv[1]))
	}
	_ = tw.Flush()
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// oneLine keeps a reason on its table row.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}
