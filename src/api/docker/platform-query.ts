import { type Platform, parsePlatformJson } from '../../lib/platform.ts'
import { type RequestContext, versionAtLeast } from '../context.ts'

/** The JSON `platform` parameter of image routes (inspect, history, save, push), from the version that brought it. */
export function platformQuery(ctx: RequestContext, since: string): Platform | undefined {
  const text = versionAtLeast(ctx, since) ? ctx.query.get('platform') : null
  return text ? parsePlatformJson(text) : undefined
}
