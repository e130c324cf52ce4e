/**
 * What executes a browser's WebGL context. A page sees RENDERER as "WebKit WebGL"; the unmasked
 * renderer of WEBGL_debug_renderer_info names the real one (e.g. "ANGLE (Google, Vulkan 1.3.0
 * (SwiftShader Device (Subzero) …), SwiftShader driver)"), so a software rasteriser is never taken
 * for a GPU.
 */

interface WebGlLike {
  getExtension(name: string): unknown;
  getParameter(pname: number): unknown;
  readonly RENDERER?: number;
}

/** WEBGL_debug_renderer_info.UNMASKED_RENDERER_WEBGL (a constant of the WebGL spec). */
const UNMASKED_RENDERER_WEBGL = 0x9246;
/** GL_RENDERER. */
const RENDERER = 0x1f01;

/** Renderers that run on the CPU: SwiftShader (Chromium's fallback), Mesa llvmpipe/softpipe, WARP. */
const SOFTWARE_RENDERER = /swiftshader|llvmpipe|softpipe|lavapipe|software rasteri[sz]er|microsoft basic render/i;

/** The renderer string, with "software rasteriser: no GPU" added when it is one. */
export function describeRenderer(renderer: string): string {
  return SOFTWARE_RENDERER.test(renderer) ? `${renderer}: software rasteriser, no GPU` : renderer;
}

/** What drives `context` (a WebGL/WebGL2 context), or 'unknown WebGL renderer' when it cannot be told. */
export function describeWebGlRenderer(context: unknown): string {
  if (!isWebGl(context)) return 'unknown WebGL renderer';
  try {
    const unmasked = context.getExtension('WEBGL_debug_renderer_info') ? context.getParameter(UNMASKED_RENDERER_WEBGL) : null;
    const renderer = typeof unmasked === 'string' && unmasked !== '' ? unmasked : context.getParameter(context.RENDERER ?? RENDERER);
    return typeof renderer === 'string' && renderer !== '' ? describeRenderer(renderer) : 'unknown WebGL renderer';
  } catch {
    return 'unknown WebGL renderer';
  }
}

function isWebGl(x: unknown): x is WebGlLike {
  if (x === null || typeof x !== 'object') return false;
  const c = x as Record<string, unknown>;
  return typeof c.getExtension === 'function' && typeof c.getParameter === 'function';
}
