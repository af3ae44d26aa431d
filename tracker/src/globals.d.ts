// The constants esbuild defines at build time; the collector fills them in when it serves the files.

/**
 * The collector's defaults for the init options: the string "__SPOOR_DEFAULTS__" in the bundle,
 * which the collector replaces (quotes included) with a JSON string literal holding an object.
 */
declare const SPOOR_DEFAULTS: string

/**
 * The parent origins the sync page answers: the string "__SPOOR_ORIGINS__" in the bundle, which the
 * collector replaces (quotes included) with a JSON array of origins; ["*"] allows any.
 */
declare const SPOOR_ORIGINS: unknown
