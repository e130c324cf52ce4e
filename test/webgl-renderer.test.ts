import { describe, expect, it } from 'vitest';
import { describeRenderer, describeWebGlRenderer } from '../src/kernels/gpu/webgl-renderer.js';

/**
 * The gpu backend's device line in a browser: the unmasked WebGL renderer, flagged when it is a software
 * rasteriser (the browser test checks the real string Chromium gives; these pin the rules).
 */
function fakeContext(params: Record<number, unknown>, debugInfo: boolean): { getExtension(n: string): unknown; getParameter(p: number): unknown } {
  return {
    getExtension: (name) => (name === 'WEBGL_debug_renderer_info' && debugInfo ? {} : null),
    getParameter: (p) => params[p] ?? null,
  };
}

describe('describeWebGlRenderer', () => {
  const swiftShader = 'ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero) (0x0000C0DE)), SwiftShader driver)';

  it('reads the unmasked renderer and marks software rasterisers as no GPU', () => {
    expect(describeWebGlRenderer(fakeContext({ 0x9246: swiftShader, 0x1f01: 'WebKit WebGL' }, true))).toBe(`${swiftShader}: software rasteriser, no GPU`);
    expect(describeRenderer('llvmpipe (LLVM 15.0.6, 256 bits)')).toMatch(/software rasteriser, no GPU$/);
    expect(describeRenderer('Microsoft Basic Render Driver')).toMatch(/no GPU$/);
  });

  it('names a hardware renderer as it is, without adding a claim', () => {
    const nvidia = 'ANGLE (NVIDIA, NVIDIA H200 Direct3D11 vs_5_0 ps_5_0)';
    expect(describeWebGlRenderer(fakeContext({ 0x9246: nvidia }, true))).toBe(nvidia);
  });

  it('falls back to RENDERER without the debug extension, and says when nothing can be told', () => {
    expect(describeWebGlRenderer(fakeContext({ 0x1f01: 'WebKit WebGL' }, false))).toBe('WebKit WebGL');
    expect(describeWebGlRenderer(fakeContext({}, false))).toBe('unknown WebGL renderer');
    expect(describeWebGlRenderer(null)).toBe('unknown WebGL renderer');
    const throwing = { getExtension: () => ({}), getParameter: () => { throw new Error('context lost'); } };
    expect(describeWebGlRenderer(throwing)).toBe('unknown WebGL renderer');
  });
});
