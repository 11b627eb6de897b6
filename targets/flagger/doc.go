// Package flagger tests crosstalk canary's Flagger webhooks with Flagger's own
// webhook client: controller.CallWebhook is what Flagger's scheduler calls
// for every pre-rollout, rollout and rollback webhook of a Canary resource.
// Its error decides: for a pre-rollout or rollout hook an error halts the
// advance and counts a failed check; for a rollback hook no error means roll
// back (see runPreRolloutHooks and runRollbackHooks in Flagger's scheduler).
//
// It is a module of its own so that Flagger and the Kubernetes modules it
// needs stay out of crosstalk's own go.mod.
package flagger
