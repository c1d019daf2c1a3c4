import { chromaHeight, chromaWidth, type I420Frame } from '../frame';
import { BT601, i420ToRgba } from './yuv';

/**
 * Draws I420 frames on a canvas. WebGL (2 if present, else 1) uploads the three planes as
 * single-channel textures and converts BT.601 limited range to RGB in the fragment shader.
 * Without WebGL (jsdom, a blocklisted GPU) it falls back to a 2D canvas and a JS conversion
 * loop; without any context it does nothing (but still never throws).
 *
 * Odd widths: planes are tightly packed, so UNPACK_ALIGNMENT is set to 1.
 * Context loss: drawing pauses until `webglcontextrestored`, then GL state is rebuilt.
 */

const VERT = `
attribute vec2 a_pos;
varying vec2 v_uv;
uniform float u_mirror;
void main() {
  vec2 uv = (a_pos + 1.0) * 0.5;
  uv.y = 1.0 - uv.y;
  if (u_mirror > 0.5) uv.x = 1.0 - uv.x;
  v_uv = uv;
  gl_Position = vec4(a_pos, 0.0, 1.0);
}`;

const FRAG = `
precision mediump float;
varying vec2 v_uv;
uniform sampler2D u_y;
uniform sampler2D u_u;
uniform sampler2D u_v;
void main() {
  float y = ${BT601.y} * (texture2D(u_y, v_uv).r - 0.0627451);
  float u = texture2D(u_u, v_uv).r - 0.5019608;
  float v = texture2D(u_v, v_uv).r - 0.5019608;
  gl_FragColor = vec4(
    y + ${BT601.rv} * v,
    y + (${BT601.gu}) * u + (${BT601.gv}) * v,
    y + ${BT601.bu} * u,
    1.0);
}`;

export type RendererKind = 'webgl2' | 'webgl' | '2d' | 'none';

export interface RendererOptions {
  mirror?: boolean;
  /** Skip WebGL (tests; or a user setting). */
  forceCanvas2d?: boolean;
}

type GL = WebGLRenderingContext | WebGL2RenderingContext;

interface GlState {
  gl: GL;
  isGl2: boolean;
  program: WebGLProgram;
  textures: [WebGLTexture, WebGLTexture, WebGLTexture];
  mirrorLoc: WebGLUniformLocation | null;
}

export class I420Renderer {
  kind: RendererKind = 'none';
  mirror: boolean;
  private glState: GlState | null = null;
  private ctx2d: CanvasRenderingContext2D | null = null;
  private lost = false;
  private img: ImageData | null = null;
  private readonly onLost = (e: Event): void => {
    e.preventDefault();
    this.lost = true;
    this.glState = null;
  };
  private readonly onRestored = (): void => {
    this.lost = false;
    this.initGl();
  };

  constructor(
    private readonly canvas: HTMLCanvasElement,
    opts: RendererOptions = {},
  ) {
    this.mirror = opts.mirror ?? false;
    if (!opts.forceCanvas2d && this.initGl()) {
      canvas.addEventListener('webglcontextlost', this.onLost, false);
      canvas.addEventListener('webglcontextrestored', this.onRestored, false);
      return;
    }
    this.ctx2d = safeGetContext(canvas, '2d') as CanvasRenderingContext2D | null;
    this.kind = this.ctx2d ? '2d' : 'none';
  }

  /** Draws one frame; returns true if something was drawn. */
  draw(f: I420Frame): boolean {
    if (this.canvas.width !== f.width || this.canvas.height !== f.height) {
      this.canvas.width = f.width;
      this.canvas.height = f.height;
    }
    if (this.kind === 'webgl' || this.kind === 'webgl2') {
      if (this.lost || !this.glState) return false;
      return this.drawGl(this.glState, f);
    }
    if (this.ctx2d) {
      if (!this.img || this.img.width !== f.width || this.img.height !== f.height) {
        this.img = this.ctx2d.createImageData(f.width, f.height);
      }
      i420ToRgba(f, this.mirror, this.img.data);
      this.ctx2d.putImageData(this.img, 0, 0);
      return true;
    }
    return false;
  }

  destroy(): void {
    this.canvas.removeEventListener('webglcontextlost', this.onLost);
    this.canvas.removeEventListener('webglcontextrestored', this.onRestored);
    const s = this.glState;
    if (s && !s.gl.isContextLost()) {
      s.textures.forEach((t) => s.gl.deleteTexture(t));
      s.gl.deleteProgram(s.program);
    }
    this.glState = null;
    this.ctx2d = null;
  }

  private initGl(): boolean {
    const attrs: WebGLContextAttributes = { alpha: false, antialias: false, depth: false, preserveDrawingBuffer: false };
    let gl = safeGetContext(this.canvas, 'webgl2', attrs) as GL | null;
    let isGl2 = !!gl;
    if (!gl) {
      gl = safeGetContext(this.canvas, 'webgl', attrs) as GL | null;
      isGl2 = false;
    }
    if (!gl) return false;
    try {
      const program = link(gl, VERT, FRAG);
      gl.useProgram(program);
      const buf = gl.createBuffer();
      gl.bindBuffer(gl.ARRAY_BUFFER, buf);
      gl.bufferData(gl.ARRAY_BUFFER, new Float32Array([-1, -1, 1, -1, -1, 1, 1, 1]), gl.STATIC_DRAW);
      const pos = gl.getAttribLocation(program, 'a_pos');
      gl.enableVertexAttribArray(pos);
      gl.vertexAttribPointer(pos, 2, gl.FLOAT, false, 0, 0);
      const textures = [0, 1, 2].map((i) => {
        const t = gl.createTexture();
        if (!t) throw new Error('createTexture failed');
        gl.activeTexture(gl.TEXTURE0 + i);
        gl.bindTexture(gl.TEXTURE_2D, t);
        gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.LINEAR);
        gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.LINEAR);
        gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
        gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
        gl.uniform1i(gl.getUniformLocation(program, ['u_y', 'u_u', 'u_v'][i]), i);
        return t;
      }) as [WebGLTexture, WebGLTexture, WebGLTexture];
      gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1);
      this.glState = { gl, isGl2, program, textures, mirrorLoc: gl.getUniformLocation(program, 'u_mirror') };
      this.kind = isGl2 ? 'webgl2' : 'webgl';
      return true;
    } catch (e) {
      console.warn('WebGL renderer unavailable, falling back to 2D canvas:', e);
      return false;
    }
  }

  private drawGl(s: GlState, f: I420Frame): boolean {
    const { gl } = s;
    const planes: [Uint8Array, number, number][] = [
      [f.y, f.width, f.height],
      [f.u, chromaWidth(f.width), chromaHeight(f.height)],
      [f.v, chromaWidth(f.width), chromaHeight(f.height)],
    ];
    planes.forEach(([data, w, h], i) => {
      gl.activeTexture(gl.TEXTURE0 + i);
      gl.bindTexture(gl.TEXTURE_2D, s.textures[i]);
      if (s.isGl2) {
        const g2 = gl as WebGL2RenderingContext;
        g2.texImage2D(g2.TEXTURE_2D, 0, g2.R8, w, h, 0, g2.RED, g2.UNSIGNED_BYTE, data);
      } else {
        gl.texImage2D(gl.TEXTURE_2D, 0, gl.LUMINANCE, w, h, 0, gl.LUMINANCE, gl.UNSIGNED_BYTE, data);
      }
    });
    gl.uniform1f(s.mirrorLoc, this.mirror ? 1 : 0);
    gl.viewport(0, 0, f.width, f.height);
    gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4);
    return true;
  }
}

function safeGetContext(
  canvas: HTMLCanvasElement,
  kind: '2d' | 'webgl' | 'webgl2',
  attrs?: WebGLContextAttributes,
): RenderingContext | null {
  try {
    return canvas.getContext(kind, attrs) ?? null;
  } catch {
    return null;
  }
}

function compile(gl: GL, type: number, src: string): WebGLShader {
  const sh = gl.createShader(type);
  if (!sh) throw new Error('createShader failed');
  gl.shaderSource(sh, src);
  gl.compileShader(sh);
  if (!gl.getShaderParameter(sh, gl.COMPILE_STATUS)) {
    throw new Error('shader: ' + gl.getShaderInfoLog(sh));
  }
  return sh;
}

function link(gl: GL, vs: string, fs: string): WebGLProgram {
  const p = gl.createProgram();
  if (!p) throw new Error('createProgram failed');
  gl.attachShader(p, compile(gl, gl.VERTEX_SHADER, vs));
  gl.attachShader(p, compile(gl, gl.FRAGMENT_SHADER, fs));
  gl.linkProgram(p);
  if (!gl.getProgramParameter(p, gl.LINK_STATUS)) throw new Error('link: ' + gl.getProgramInfoLog(p));
  return p;
}

/** Counts drawn frames and a 1-second fps, for the canvas's data-frames / data-fps. */
export class FpsCounter {
  frames = 0;
  fps = 0;
  private windowStart = -1;
  private windowFrames = 0;

  tick(nowMs: number): void {
    this.frames++;
    if (this.windowStart < 0) {
      this.windowStart = nowMs;
      return;
    }
    this.windowFrames++;
    const dt = nowMs - this.windowStart;
    if (dt >= 1000) {
      this.fps = Math.round((this.windowFrames * 1000) / dt);
      this.windowStart = nowMs;
      this.windowFrames = 0;
    }
  }
}
