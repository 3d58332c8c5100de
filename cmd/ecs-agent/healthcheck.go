package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/ecsd/ecsd/config"
	"github.com/ecsd/ecsd/internal/agenthealth"
	"github.com/ecsd/ecsd/internal/hostsetup"
)

// healthcheckTimeout bounds `--healthcheck`'s whole request. An agent that takes longer to
// say how it is counts as unhealthy; it stays below the 30 s a container runtime gives a
// health check command by default, so the check fails with its own message.
const healthcheckTimeout = 10 * time.Second

// healthcheck asks the running agent for its health on its introspection port (host
// ECS_AGENT_HEALTHCHECK_HOST, default localhost, as the reference agent's --healthcheck)
// and returns the exit status: 0 healthy, 1 not or not answering. One line says which.
func healthcheck(ctx context.Context, stdout, stderr io.Writer) int {
	cfg, _, err := config.Load(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "ecs-agent --healthcheck: configuration: %v\n", err)
		return exitError
	}
	url := "http://" + net.JoinHostPort(cfg.AgentHealthcheckHost, hostsetup.IntrospectionPort) + agenthealth.Path
	ctx, cancel := context.WithTimeout(ctx, healthcheckTimeout)
	defer cancel()
	rep, err := agenthealth.Probe(ctx, &http.Client{}, url)
	switch {
	case err == nil:
		state := "ACS connected"
		if !rep.ACSConnected {
			state = fmt.Sprintf("ACS disconnected for %s, within the %s grace", seconds(rep.ACSDisconnectedSeconds), seconds(rep.ACSGraceSeconds))
		}
		fmt.Fprintf(stdout, "healthy: %s\n", state)
		return exitOK
	case errors.Is(err, agenthealth.ErrUnhealthy):
		fmt.Fprintf(stderr, "unhealthy: %s\n", rep.Reason)
	default:
		fmt.Fprintf(stderr, "unhealthy: %v\n", err)
	}
	return exitError
}

func seconds(s float64) time.Duration {
	return (time.Duration(s * float64(time.Second))).Round(time.Second)
}
