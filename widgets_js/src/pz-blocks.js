import { blocks } from './blocks.js'

window.pz._m.def('blocks', blocks)
