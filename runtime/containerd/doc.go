// Package containerd implements runtime.Runtime on containerd's v2 Go client.
//
// It is the only package in ecsd that imports containerd. Everything the agent needs to
// rebuild its view after a crash lives in containerd itself: container IDs are the
// deterministic IDs chosen by the caller, and labels carry the caller's metadata plus a few
// of our own (see labels.go), so InspectContainer and ListContainers work without any
// agent-side state.
//
// Compatibility: images are pulled client-side with Client.Pull and unpacked by the
// client (not through the transfer service), and no sandbox or RuntimeInfo API is used, so
// the package works against containerd 1.6 as well as 2.x (the integration tests pass on
// both). Only the runc v2 shim with cgroupfs-style cgroup paths is exercised.
//
// Docker parity, because ECS task definitions are written for Docker: entrypoint/command
// override rules, HOSTNAME in the environment, setuid allowed (no NoNewPrivileges),
// Docker's default seccomp profile unless privileged, the container's cgroups mounted
// read-only at /sys/fs/cgroup, and the host's /etc/hosts and /etc/resolv.conf with host
// networking.
//
// Known limits:
//   - Init needs a statically linked init: WithInitPath (the agent gives ecsd-init), else
//     one of the host's (tini-static, catatonit, docker-init); without one a container
//     asking for an init is refused (errdefs.ErrFailedPrecondition), never run without it.
//   - OOM detection is best effort: the /tasks/oom event (when Events is consumed), an exit
//     watcher registered by StartContainer, and the cgroup's oom_kill counter read while the
//     stopped task still exists.
//   - A started container whose task vanished (host reboot) reports stopped with exit
//     code 255, as Docker does.
//   - An AppArmor profile is applied only when ContainerConfig.AppArmorProfile names one
//     (the caller checks the host has it); there is no default profile.
package containerd
