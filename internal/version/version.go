// Package version carries the build's version, set with -ldflags at build time.
package version

// Version and GitHash are overwritten by the Makefile's -ldflags.
var (
	Version = "0.1.0"
	GitHash = "unknown"
)

// License is what the introspection API's /license serves.
const License = `ecsd, a containerd-native Amazon ECS container agent.

Licensed under the Apache License, Version 2.0 (the "License"); you may not use this
software except in compliance with the License. You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software distributed under the
License is distributed on an "AS IS" BASIS, WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND,
either express or implied. See the License for the specific language governing permissions
and limitations under the License.
`
