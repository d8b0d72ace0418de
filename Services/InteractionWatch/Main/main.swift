import InteractionWatch
import ServiceKit

await ServiceMain.run(InteractionWatchService.definition)
