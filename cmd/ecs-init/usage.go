package main

// usage is the help text. It is the user documentation of the commands, so it says what
// each one changes on the host.
const usage = `ecs-init prepares the host for ecsd's ecs-agent and cleans up after it.
systemd runs it from ecs.service; running it by hand is safe: every command is idempotent.

Usage:
  ecs-init <command> [flags]

Commands:
  pre-start    Prepare the host (ExecStartPre):
                 - create /etc/ecs, /var/lib/ecs, /var/log/ecs, ECS_DATADIR (0700) and the
                   directories of ECS_LOGFILE and ECS_AUDIT_LOGFILE;
                 - set net.ipv4.conf.all.route_localnet=1;
                 - set net.ipv6.conf.<bridge>.accept_ra=0 if the task bridge exists;
                 - on IPv6-only hosts, route 169.254.170.2/32 to lo;
                 - add the iptables rules that send 169.254.170.2:80 to the agent on
                   127.0.0.1:51679 (nat PREROUTING DNAT, nat OUTPUT REDIRECT), drop
                   off-host traffic to 127.0.0.0/8 (unless
                   ECS_SKIP_LOCALHOST_TRAFFIC_FILTER=true), and drop tcp/51678
                   (introspection) on every interface but lo, except from the task
                   bridge, for IPv4 and IPv6 (unless
                   ECS_ALLOW_OFFHOST_INTROSPECTION_ACCESS=true).
               Each rule is checked (iptables -C) before it is added.
  start        Run the agent (ExecStart): install the self-update the agent left ready
               in ECS_UPDATE_DOWNLOAD_DIR (it exits with status 42 after an
               acknowledged PerformUpdate) under --versions-dir, pick the version to run
               (the package's agent, or an installed update), and execute it in
               ecs-init's place (same PID, for Type=notify) with the arguments after --
               (default, and with none: --ecs-init-defaults). A new version runs on trial: if it restarts
               3 times before it is registered and serving, the previous version runs
               again. A new package agent wins over a self-update.
               The package's agent is --agent (default ecs-agent next to ecs-init) or,
               when ECSD_AGENT_IMAGE is set, the agent from that image: the image is
               loaded into containerd (namespace --namespace, default ecsd-agent) from
               the cache if the state file says 2 (reload needed), or says 1 and the
               image is missing; pulled if still missing; then its /ecsd binaries are
               copied to --deps-dir (default /var/lib/ecs/deps/ecsd) and run from there.
  post-stop    Undo pre-start (ExecStopPost): delete every rule pre-start could have
               added, whatever the settings say now; set route_localnet back to
               net.ipv4.conf.default.route_localnet; remove the loopback route.
               Directories are kept.
  reload-cache Load the cached agent image (--cache-dir, default /var/cache/ecs:
               ecs-agent.tar, a docker-archive or OCI archive, and the state file
               "state") into containerd, and set the state to 1. Fails when there is no
               cache: ecsd downloads no agent.
  version      Print the version.
  help         Print this help.

Flags (pre-start and post-stop):
  --bridge NAME      task bridge allowed to reach introspection (default $ECSD_BRIDGE_NAME
                     or ecsd0)
  --iptables PATH    iptables binary (default iptables in PATH)
  --ip6tables PATH   ip6tables binary (default ip6tables in PATH; IPv6 rules are skipped
                     without it or without kernel IPv6)
  --ip PATH          ip(8) binary (default ip in PATH)
  --root DIR         pre-start only: create the directories below DIR (default /)

Flags (start):
  --agent PATH         the package's ecs-agent (default: ecs-agent next to ecs-init)
  --versions-dir DIR   where updates are installed (default /var/lib/ecs/agent)
  --deps-dir DIR       with ECSD_AGENT_IMAGE: where the image's binaries are copied
                       (default /var/lib/ecs/deps/ecsd)

Flags (start and reload-cache):
  --cache-dir DIR      the agent image's cache (default /var/cache/ecs)
  --namespace NS       containerd namespace of the agent image (default ecsd-agent)
The containerd socket is ECSD_CONTAINERD_ADDRESS.

Settings are read like the agent reads them: the environment (the unit loads
/var/lib/ecs/ecs.config and /etc/ecs/ecs.config into it), then the KEY=VALUE file
($ECSD_CONFIG_FILE, default /etc/ecs/ecs.config), then ECS_AGENT_CONFIG_FILE_PATH.
ecs-init logs to stderr (ECS_LOGLEVEL, ECS_LOG_OUTPUT_FORMAT).

Exit status: 0 success, 5 terminal (bad usage or configuration), 1 any other failure.
`
