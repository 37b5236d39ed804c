// Package connector is onoffsync's domain: it owns the webhook receiver (routes.go lists every route), the
// per-destination sync loops with their pure retry policy (policy.go), configuration, and the one map from
// errors to HTTP statuses. It imports crm, its adapters, mapping and store; never connector/admin nor cmd.
package connector
