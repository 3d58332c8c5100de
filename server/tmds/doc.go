// Package tmds is the task metadata server: task metadata v2/v3/v4 with stats, the task IAM
// role credentials endpoint and the agent API pass-through, served on 127.0.0.1:51679 and
// reached by task containers as 169.254.170.2:80.
//
// Everything here is a contract with unmodified AWS clients (SDK credential providers,
// OpenTelemetry/Datadog/CloudWatch detectors), so routes, status codes, JSON keys and error
// bodies follow spec/ECS-AGENT-ENDPOINTS.md §2, §3.1 and §5 to the letter. Where ecsd is
// stricter than the reference agent it is only in whom it answers (credentials source
// check, a task's own containers), never in the shape of an answer.
package tmds
