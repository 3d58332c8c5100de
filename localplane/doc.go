// Package localplane is a local Amazon ECS control plane: the ECS API subset an agent and a
// user need (JSON 1.1 over HTTP, SigV4), the ACS websocket that delivers tasks, and the
// TCS websocket that receives metrics and health, all behind one http.Handler. An agent
// pointed at it (ECS_BACKEND_HOST) cannot tell it from ECS: it registers, discovers the
// poll endpoints, receives payloads, acknowledges them and reports state changes exactly
// as it would against AWS. Tests use it to drive the agent through the real protocol,
// `ecs-agent --local` embeds it so that a machine without AWS can run tasks with
// `aws ecs run-task --endpoint-url ...`, and `ecs-local` runs it on its own (Serve) so
// that several agents of one machine join one local cluster. It lives outside the
// agent's controlplane packages because it is an emulator of ECS, not a way of talking
// to it.
//
// URLs served by Handler:
//
//	POST /                ECS API (X-Amz-Target: AmazonEC2ContainerServiceV20141113.<Op>)
//	GET  /acs/ws?...      ACS websocket (DiscoverPollEndpoint's endpoint + "/ws")
//	GET  /tcs/ws?...      TCS websocket (DiscoverPollEndpoint's telemetryEndpoint + "/ws")
//
// What it models: clusters, container instances with registered and remaining resources,
// task definitions (revisions, ACTIVE/INACTIVE), tasks placed by RunTask (each on the
// instance of the launch type, EC2 or EXTERNAL, with the fewest tasks not STOPPED among
// those whose agent is connected and that have the required attributes, enough CPU,
// memory and free static host ports: a count spreads over the cluster's instances;
// idempotent with a clientToken) or StartTask, task and
// container state driven by the agent's SubmitTaskStateChange reports, and payload delivery with acknowledgements and resends. Task definitions are
// translated into ACS payload tasks the way ECS does it, including the Docker-shaped
// dockerConfig blobs (see translate.go). An awsvpc task gets an invented ENI (eni.go): an
// address of Options.ENISubnet, handed to the agent in the payload task and shown by
// DescribeTasks as the task's attachment, PRECREATED until the agent reports it ATTACHED,
// DELETED (its address free again) once the task is STOPPED. Task scale-in protection
// (UpdateTaskProtection, GetTaskProtection) is kept with the task and lapses on its own;
// unlike ECS, any task may be protected, since there are no services. Tasks, container
// instances, clusters and task definitions carry tags (ListTagsForResource, TagResource,
// UntagResource, RunTask's tags and propagateTags=TASK_DEFINITION), which the agent's
// task metadata reads for …WithTags. A task definition's secrets, environment files and
// log configuration pass to the agent as ECS sends them, and placement checks the
// attributes the definition requires (requires.go). It does not model services, capacity
// providers, placement constraints, EBS attachments or real IAM: role credentials are
// random keys (accepted by an AWS emulator such as moto, refused by AWS), but a task's
// role credentials do sign API requests, and such a request may only read or change that
// task's protection (auth.go).
//
// State (clusters, instances, task definitions, tasks, sequence numbers and what each
// agent acknowledged) is kept in memory and, when Options.StatePath is set, rewritten
// atomically to that JSON file on every change, before the change is answered or sent to
// an agent; a change that cannot be written is undone and answered with a
// ServerException, so a retry finds nothing half done. A restarted control plane (and the
// agent embedding it) keeps its instance ARN and tasks.
//
// Using it by hand, with the AWS CLI against an embedded or test instance listening on
// 127.0.0.1:PORT (any credentials unless Options.Credentials is set; signed for any
// region):
//
//	aws --endpoint-url http://127.0.0.1:PORT --region local ecs register-task-definition \
//	    --family web --container-definitions '[{"name":"app","image":"busybox","memory":64,"command":["sleep","600"]}]'
//	aws --endpoint-url http://127.0.0.1:PORT --region local ecs run-task --cluster default --task-definition web
//	aws --endpoint-url http://127.0.0.1:PORT --region local ecs describe-tasks --cluster default --tasks <ID>
//
// `ecs-agent --local` keeps its key pair and endpoint in a root-only file that
// `ecsctl local env` turns into the environment the AWS CLI and SDKs need.
package localplane
