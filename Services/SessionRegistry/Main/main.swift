import SessionRegistry
import ServiceKit

await ServiceMain.run(SessionRegistryService.definition)
