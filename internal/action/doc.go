// Package action is the runner protocol every action shares: inputs from
// flags and INPUT_* env, outputs, masks, annotations, step summary, the JSON
// report and exit codes. It sits on github.com/sethvargo/go-githubactions.
package action
