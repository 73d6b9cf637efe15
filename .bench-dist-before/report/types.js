/**
 * The document that the report embeds as JSON and its page script (client.ts) reads. Built in Node by
 * data.ts; nothing here runs in the browser except through `import type`.
 *
 * Why columns instead of one object per experiment: at 10,000 experiments, repeating ~30 key names per
 * row would be most of the file. Strings that repeat (model, quant, engine, …) are dictionary-encoded:
 * the column holds an index into `dict.<name>`, -1 for null.
 */
/** Bump when the shape changes; the page refuses a document it does not know. */
export const REPORT_DATA_VERSION = 1;
//# sourceMappingURL=types.js.map