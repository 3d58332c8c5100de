package localplane

import (
	"crypto/rand"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/ecsd/ecsd/controlplane/payload"
)

// awsvpc tasks: ECS gives each one an elastic network interface in one of the subnets of
// its RunTask/StartTask networkConfiguration, describes it in the task's attachments, and
// hands it to the agent in the payload task's elasticNetworkInterfaces. Here the
// interface is invented: an ID, a MAC and the lowest free address of Options.ENISubnet.

// Attachment statuses as DescribeTasks shows them. ECS passes through more (ATTACHING,
// DETACHING, DETACHED); these are the ones an EC2 task's ENI is seen in.
const (
	attachmentPrecreated = "PRECREATED"
	attachmentAttached   = "ATTACHED"
	attachmentDeleted    = "DELETED"

	attachmentTypeENI = "ElasticNetworkInterface"
)

// eniRecord is a task's ENI and its attachment's status. It keeps everything the payload
// and DescribeTasks show, so a restart with other ENI options leaves it as it was.
type eniRecord struct {
	AttachmentARN  string   `json:"attachmentArn"`
	ID             string   `json:"networkInterfaceId"`
	MAC            string   `json:"macAddress"`
	IPv4           string   `json:"privateIPv4Address"`
	SubnetID       string   `json:"subnetId"`
	SecurityGroups []string `json:"securityGroups,omitempty"`
	// Gateway is "<gateway>/<prefix length>", the ACS subnetGatewayIpv4Address.
	Gateway        string   `json:"subnetGatewayIpv4Address"`
	DNSServers     []string `json:"domainNameServers,omitempty"`
	DomainName     []string `json:"domainName,omitempty"`
	PrivateDNSName string   `json:"privateDnsName"`
	Status         string   `json:"status"`
}

// holdsAddress reports whether the ENI still owns its address and MAC.
func (e *eniRecord) holdsAddress() bool { return e != nil && e.Status != attachmentDeleted }

// attachmentRank orders attachment statuses; they only move forward.
func attachmentRank(s string) int {
	switch s {
	case attachmentPrecreated:
		return 1
	case attachmentAttached:
		return 2
	case attachmentDeleted:
		return 3
	}
	return 0
}

// taskNetwork checks a RunTask or StartTask networkConfiguration against the definition's
// network mode, with ECS's messages, and returns the awsvpc configuration of an awsvpc
// task (nil for any other mode).
func taskNetwork(networkMode string, nc *networkConfiguration) (*awsVpcConfiguration, error) {
	var vpc *awsVpcConfiguration
	if nc != nil {
		vpc = nc.AwsvpcConfiguration
	}
	if networkMode != "awsvpc" {
		if vpc != nil {
			return nil, errInvalidParameter("Network Configuration is not valid for the given networkMode of this task definition.")
		}
		return nil, nil
	}
	switch {
	case vpc == nil:
		return nil, errInvalidParameter("Network Configuration must be provided when networkMode 'awsvpc' is specified.")
	case len(vpc.Subnets) == 0:
		return nil, errInvalidParameter("subnets can not be empty.")
	case len(vpc.Subnets) > 16:
		return nil, errInvalidParameter("subnets can have at most 16 items.")
	case len(vpc.SecurityGroups) > 5:
		return nil, errInvalidParameter("securityGroups can have at most 5 items.")
	case slices.Contains(vpc.Subnets, ""):
		return nil, errInvalidParameter("subnets can not contain empty values.")
	}
	switch vpc.AssignPublicIP {
	case "", "DISABLED":
	case "ENABLED":
		return nil, errInvalidParameter("Assign public IP is not supported for this launch type.")
	default:
		return nil, errInvalidParameter("Invalid assignPublicIp %q (want ENABLED or DISABLED).", vpc.AssignPublicIP)
	}
	return &awsVpcConfiguration{Subnets: slices.Clone(vpc.Subnets), SecurityGroups: slices.Clone(vpc.SecurityGroups),
		AssignPublicIP: vpc.AssignPublicIP}, nil
}

// allocateENI creates the ENI of a new awsvpc task: the lowest address of the subnet that
// is neither reserved nor held by another task's ENI, and a MAC no live ENI has. ok is
// false when the subnet is full. Nothing in st changes; the caller stores the record.
func (s *Server) allocateENI(st *state, vpc *awsVpcConfiguration) (eni *eniRecord, ok bool) {
	subnet := s.opts.ENISubnet
	used := map[netip.Addr]bool{}
	macs := map[string]bool{}
	for _, t := range st.Tasks {
		if t.ENI.holdsAddress() {
			if a, err := netip.ParseAddr(t.ENI.IPv4); err == nil {
				used[a] = true
			}
			macs[t.ENI.MAC] = true
		}
	}
	for _, d := range s.opts.ENIDNSServers {
		if a, err := netip.ParseAddr(d); err == nil {
			used[a] = true
		}
	}
	// As in a VPC subnet: the network address and the next three (gateway, DNS, reserved)
	// and the broadcast address are never given out.
	first := subnet.Addr().Next().Next().Next().Next()
	var addr netip.Addr
	for a := first; subnet.Contains(a) && subnet.Contains(a.Next()); a = a.Next() {
		if !used[a] {
			addr = a
			break
		}
	}
	if !addr.IsValid() {
		return nil, false
	}
	mac := newMAC()
	for macs[mac] {
		mac = newMAC()
	}
	domain := regionDomain(s.opts.Region)
	return &eniRecord{
		AttachmentARN:  s.arn.prefix() + "attachment/" + newUUID(),
		ID:             "eni-" + randomHex(9)[:17],
		MAC:            mac,
		IPv4:           addr.String(),
		SubnetID:       vpc.Subnets[0],
		SecurityGroups: slices.Clone(vpc.SecurityGroups),
		Gateway:        fmt.Sprintf("%s/%d", subnet.Addr().Next(), subnet.Bits()),
		DNSServers:     slices.Clone(s.opts.ENIDNSServers),
		DomainName:     slices.Clone(s.opts.ENIDomainName),
		PrivateDNSName: "ip-" + strings.ReplaceAll(addr.String(), ".", "-") + "." + domain,
		Status:         attachmentPrecreated,
	}, true
}

// newMAC returns a random locally administered unicast MAC address (02:xx:xx:xx:xx:xx):
// it cannot collide with a vendor-assigned one.
func newMAC() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b[1:])
	b[0] = 0x02
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5])
}

// setAttachmentStatus moves the ENI's attachment forward to status and says whether it
// changed. DELETED releases the address and MAC for other tasks.
func (e *eniRecord) setAttachmentStatus(status string) bool {
	if e == nil || attachmentRank(status) <= attachmentRank(e.Status) {
		return false
	}
	e.Status = status
	return true
}

// reportedAttachmentStatus maps an agent's attachment report to the status ECS shows; ok
// is false for a status that changes nothing here.
func reportedAttachmentStatus(s string) (string, bool) {
	switch s {
	case attachmentAttached:
		return attachmentAttached, true
	case "DETACHED", attachmentDeleted:
		return attachmentDeleted, true
	}
	return "", false
}

// applyAttachmentReports applies the attachment entries of a SubmitTaskStateChange to t
// and says whether anything changed. Entries for other attachments are ignored.
func (s *Server) applyAttachmentReports(t *taskRecord, reports []AttachmentStateChange) bool {
	changed := false
	for _, r := range reports {
		if t.ENI == nil || t.ENI.AttachmentARN != r.AttachmentArn {
			s.log.Info("ignoring a report for an unknown attachment", "task", t.ARN, "attachment", r.AttachmentArn)
			continue
		}
		status, ok := reportedAttachmentStatus(r.Status)
		if !ok {
			continue
		}
		changed = t.ENI.setAttachmentStatus(status) || changed
	}
	return changed
}

// taskByAttachment finds the task owning an attachment ARN, or nil.
func taskByAttachment(st *state, attachmentARN string) *taskRecord {
	for _, t := range st.Tasks {
		if t.ENI != nil && t.ENI.AttachmentARN == attachmentARN {
			return t
		}
	}
	return nil
}

// payloadENI renders the ENI as ACS sends it in a payload task.
func payloadENI(e *eniRecord) payload.ElasticNetworkInterface {
	return payload.ElasticNetworkInterface{
		AttachmentArn:                e.AttachmentARN,
		EC2ID:                        e.ID,
		MacAddress:                   e.MAC,
		Index:                        0, // the task's only interface (omitted on the wire, which reads as 0)
		InterfaceAssociationProtocol: "default",
		IPv4Addresses:                []payload.IPv4AddressAssignment{{Primary: true, PrivateAddress: e.IPv4}},
		SubnetGatewayIPv4Address:     e.Gateway,
		DomainNameServers:            slices.Clone(e.DNSServers),
		DomainName:                   slices.Clone(e.DomainName),
		PrivateDNSName:               e.PrivateDNSName,
	}
}

// attachmentOutputOf renders the ENI as DescribeTasks shows it in a task's attachments.
func attachmentOutputOf(e *eniRecord) attachmentOutput {
	return attachmentOutput{
		ID:     lastSegment(e.AttachmentARN),
		Type:   attachmentTypeENI,
		Status: e.Status,
		Details: []keyValuePair{
			{Name: "subnetId", Value: e.SubnetID},
			{Name: "networkInterfaceId", Value: e.ID},
			{Name: "macAddress", Value: e.MAC},
			{Name: "privateDnsName", Value: e.PrivateDNSName},
			{Name: "privateIPv4Address", Value: e.IPv4},
		},
	}
}
