import { campaigns } from './campaigns.js'

window.pz._m.def('campaigns', campaigns)
