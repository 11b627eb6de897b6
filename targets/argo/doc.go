// Package argo tests crosstalk canary's /verdict endpoint with Argo Rollouts'
// own web metric provider: the code an Argo Rollouts controller runs for an
// AnalysisTemplate's "web" metric measures a live canary, and its measurement
// phase (Successful, Failed, Error) is what the test checks.
//
// It is a module of its own so that Argo Rollouts and the Kubernetes modules
// it needs stay out of crosstalk's own go.mod. Argo Rollouts v1.10.2 needs
// Go 1.26.10 or later: run the tests with GOTOOLCHAIN=go1.27.3 (test.sh does).
package argo
