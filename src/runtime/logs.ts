/** Log annotations the runtime sets and the edges read. */

/** On a failed table's log record when the caller's output shows the failure already (a terminal need not repeat it). */
export const shownInOutput = "medallion.shown_in_output"
