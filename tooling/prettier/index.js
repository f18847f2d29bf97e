/**
 * The house format, one config for every package (the root package.json points here): 120 columns, as the code was
 * written before the formatter came; double quotes and trailing commas, as it already was.
 * @type {import("prettier").Config}
 */
export default {
  printWidth: 120,
  singleQuote: false,
  trailingComma: "all",
  // Markdown keeps its authors' line breaks: prose is wrapped by hand at the same width.
  proseWrap: "preserve",
};
