// Node ESM resolve hook for TensorFlow.js's per-file ES module build, whose relative imports omit the
// '.js' extension (written for bundlers). Only used to load tfjs-core's gradient registrations
// (dist/register_all_gradients.js), which none of its prebuilt bundles include.
export async function resolve(specifier, context, next) {
  const inTf = context.parentURL !== undefined && context.parentURL.includes('/node_modules/@tensorflow/');
  if (inTf && specifier.startsWith('.') && !/\.[cm]?js$/.test(specifier)) {
    try {
      return await next(`${specifier}.js`, context);
    } catch {
      return next(`${specifier}/index.js`, context);
    }
  }
  return next(specifier, context);
}
