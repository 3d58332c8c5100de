// Package hostsetup is the host half of ecsd's ecs-init: the idempotent, reversible changes
// a host needs before the agent can serve tasks on 169.254.170.2, and their exact undo.
//
// The agent listens for task credentials and metadata on 127.0.0.1:51679 and for
// introspection on port 51678. Tasks reach it at 169.254.170.2:80, so PreStart
//
//   - sets net.ipv4.conf.all.route_localnet=1, without which the kernel refuses to route
//     packets arriving from a bridge to a 127.0.0.0/8 destination after DNAT;
//   - installs the reference ecs-init's iptables rules (spec §6.3): DNAT in nat PREROUTING for
//     bridge-mode containers, REDIRECT in nat OUTPUT for host-network processes, a filter that
//     stops off-host packets from reaching loopback services now that route_localnet is on,
//     and a block on off-host access to introspection (IPv4 and IPv6) with an exception for
//     the agent's task bridge;
//   - on IPv6-only hosts routes 169.254.170.2 to lo, because with no IPv4 route at all the
//     connect fails with ENETUNREACH before the nat OUTPUT hook could redirect it;
//   - turns IPv6 router advertisements off on the task bridge, if it exists;
//   - creates the directories the agent writes to.
//
// PostStop removes every rule PreStart could have added, whatever the two switches say now,
// so a configuration change between start and stop cannot leave rules behind (the bridge
// name is the exception: the ACCEPT is matched by name). It restores route_localnet to the
// kernel default for new interfaces and removes the IPv6-only route. Directories are kept:
// they hold the agent's state. The accept_ra=0 set on the task bridge is kept too, as the
// reference ecs-init keeps it on docker0.
//
// Every step checks before it changes anything (iptables -C, reading the sysctl, listing the
// route), so running either function twice changes nothing the second time. Rules are
// managed by running the iptables binaries rather than through a library: they pick the
// host's backend (nft or legacy) and take the xtables lock (-w) like every other tool on
// the host. PreStart does not roll back on failure: systemd runs ExecStopPost (PostStop)
// after a failed ExecStartPre as well.
package hostsetup
