package main

import "github.com/openomm/omm"

// The tests read the APIs' JSON into the SDK's view types.
type (
	auditView         = omm.AuditView
	deviceView        = omm.DeviceSummaryView
	decisionView      = omm.DecisionView
	actionView        = omm.DeviceCommand
	appliedView       = omm.Compliance
	userView          = omm.UserView
	groupView         = omm.GroupView
	policyBody        = omm.PolicyBody
	deviceFacts       = omm.Facts
	orgView           = omm.OrgView
	enrollRequest     = omm.EnrollRequest
	androidEnrollment = omm.AndroidEnrollmentView
)

const (
	deniedAction = omm.DeniedAction
	maxJSONBody  = omm.MaxJSONBody
)

var viewDecision = omm.ViewDecision
