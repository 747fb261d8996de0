"""English paragraphs for the demo crawl, written for this project (no external text).

Each topic holds paragraphs of 2-6 sentences. Slots in braces are filled per document
(see ``compose.SLOT_FILLERS_EN``): {city}, {person}, {org}, {n}, {year}, {big}. The generator
keeps a random subset of each paragraph's sentences and fills the slots, so two documents that
draw the same paragraph still differ at the sentence and word level.
"""

from __future__ import annotations

TOPICS_EN: dict[str, list[str]] = {
    "news": [
        "The city council of {city} voted {n} to 4 on Tuesday to extend the night bus network to the eastern suburbs. "
        "Supporters said the change would help shift workers who currently pay for taxis after midnight. "
        "Opponents argued that the budget of {big} dollars should go to road repairs first. "
        "The first new routes are expected to start running in the spring of {year}.",
        "Heavy rain flooded several low-lying streets in {city} overnight, forcing {n} families to leave their homes. "
        "Emergency crews worked until dawn to clear blocked drains near the river. "
        "Local officials said no injuries had been reported, although two schools will stay closed on Monday. "
        "Residents have been asked to avoid driving through standing water.",
        "{org} announced on Wednesday that it will open a new distribution center outside {city}, creating about {big} jobs. "
        "The company said construction would begin later this year after the final permits are approved. "
        "Union representatives welcomed the news but asked for clear commitments on wages and safety. "
        "Analysts noted that the region has been losing manufacturing work for more than a decade.",
        "Police in {city} are asking for help to identify a driver who left the scene of a collision on Friday evening. "
        "The crash happened at a busy junction shortly after {n} o'clock, when many people were leaving work. "
        "A cyclist was taken to hospital with injuries that are not believed to be life-threatening. "
        "Anyone with dashboard camera footage is urged to contact the local station.",
        "The national statistics office reported that consumer prices rose by {n} tenths of a percent last month. "
        "Food and rent were the main drivers, while fuel prices fell slightly for the second month in a row. "
        "Economists had expected a smaller increase and said the central bank may delay its next rate cut. "
        "Households in smaller towns continue to feel the pressure more than those in large cities.",
        "Thousands of runners filled the streets of {city} on Sunday for the annual marathon, the {n}th edition of the race. "
        "Organizers said a record {big} people registered this year, including many first-time participants. "
        "The winner crossed the finish line in just over two hours and eight minutes. "
        "Volunteers handed out water and oranges at stations placed every five kilometers along the course.",
        "The regional hospital in {city} has opened a new wing dedicated to the care of children with chronic illnesses. "
        "Doctors said the extra beds would reduce waiting times that had grown to several months. "
        "The project cost {big} dollars and was funded partly through donations from local businesses. "
        "{person}, who led the fundraising campaign, said the community had shown remarkable generosity.",
        "Farmers near {city} say that an unusually dry summer has cut their wheat harvest by almost a third. "
        "Many are now selling livestock early because they cannot afford to buy extra feed. "
        "The agriculture ministry has promised emergency payments, but farmers complain that the forms are too complicated. "
        "Weather forecasters expect more normal rainfall in the autumn.",
        "A small museum in {city} has reopened after a two-year renovation that uncovered murals hidden behind old plaster. "
        "Experts believe the paintings date from the early nineteenth century. "
        "{person}, the museum's director, said visitors can now see the murals from a raised walkway. "
        "Entry will be free for residents during the first {n} weeks.",
    ],
    "encyclopedia": [
        "The river rises in the northern highlands and flows for roughly {big} kilometers before reaching the sea. "
        "Its basin supports a large population of farmers who depend on seasonal flooding to enrich the soil. "
        "Several dams were built along its course in the twentieth century to generate electricity and control floods. "
        "The river has also served as an important trade route since ancient times.",
        "The violin is a bowed string instrument with four strings tuned in perfect fifths. "
        "It is the smallest and highest-pitched member of the violin family, which also includes the viola and the cello. "
        "Modern violins are usually made of spruce for the top and maple for the back and sides. "
        "The instrument became popular in Europe during the sixteenth century.",
        "Photosynthesis is the process by which green plants, algae and some bacteria convert light energy into chemical energy. "
        "During the process, carbon dioxide and water are turned into glucose, and oxygen is released as a by-product. "
        "The reactions take place mainly in the chloroplasts, which contain the pigment chlorophyll. "
        "Almost all life on Earth depends directly or indirectly on this process.",
        "The town of {city} was founded as a river crossing and market place in the Middle Ages. "
        "It received a royal charter in {n}50, which allowed it to hold a weekly market and collect tolls. "
        "The old town still contains many timber-framed houses and a Gothic church with a tall spire. "
        "Today the economy relies mostly on tourism, light industry and services.",
        "The printing press with movable type transformed the spread of information in Europe in the fifteenth century. "
        "Before its invention, books were copied by hand, which made them rare and expensive. "
        "Within a few decades, printing workshops appeared in dozens of cities. "
        "Historians link the technology to the rapid growth of literacy, science and religious debate.",
        "A glacier is a persistent body of dense ice that moves slowly under its own weight. "
        "Glaciers form where the accumulation of snow exceeds its melting over many years. "
        "They shape the landscape by carving valleys, moving rocks and depositing sediment. "
        "Many glaciers around the world have been retreating since the middle of the nineteenth century.",
        "The honey bee is a social insect that lives in colonies of up to {big} individuals. "
        "A colony usually has a single queen, thousands of female workers and, in summer, a few hundred males. "
        "Workers communicate the location of flowers to each other through a movement known as the waggle dance. "
        "Bees are important pollinators for many crops, including apples, almonds and clover.",
        "Chess is a two-player strategy board game played on a checkered board with sixty-four squares. "
        "Each player begins with sixteen pieces: one king, one queen, two rooks, two knights, two bishops and eight pawns. "
        "The objective is to checkmate the opponent's king so that it cannot escape capture. "
        "The modern rules took shape in southern Europe around the end of the fifteenth century.",
    ],
    "forum": [
        "Has anyone else had trouble with the latest firmware update for their router? "
        "Since I installed it on {year}-03-{n}, the wifi drops every evening at around the same time. "
        "I already tried a factory reset and changing the channel, but nothing helped. "
        "Any advice would be appreciated before I go back to the old version.",
        "I have been learning to play guitar for about {n} months now and my fingers still hurt after practice. "
        "Is that normal, or am I pressing the strings too hard? "
        "I practice for roughly an hour a day, mostly chords and simple songs. "
        "Thanks in advance for any tips.",
        "Reply to {person}: I had exactly the same problem with my car last winter. "
        "It turned out to be a weak battery that could not handle the cold mornings. "
        "The mechanic tested it in five minutes and the replacement cost me less than {n}0 dollars. "
        "Check that first before you start replacing expensive parts.",
        "We are planning a family trip to {city} in July with two kids aged {n} and nine. "
        "Is it better to rent a car or rely on public transport? "
        "We would like to visit a few beaches and maybe one or two museums if the weather is bad. "
        "Any recommendations for family-friendly places to eat would also be great.",
        "Quick question for the sourdough bakers here. "
        "My starter bubbles nicely for a few hours after feeding, but the bread never rises much in the oven. "
        "I use about {n}0 percent hydration and bake in a cast iron pot. "
        "Could the problem be my shaping, or is the starter just too weak?",
        "Update: I finally fixed the leaking tap in the kitchen, thanks to everyone who replied. "
        "The washer inside was completely worn and cracked into three pieces. "
        "A replacement kit cost a few dollars at the hardware store near {city} station. "
        "The whole job took about twenty minutes once I had the right wrench.",
        "Does anybody know if the library card also works for the online language courses? "
        "I signed up last week, but the website keeps asking me for a separate code. "
        "The staff at the {city} branch were friendly but did not know the answer either. "
        "I would really like to start the Spanish beginner course this month.",
        "Honestly, I think the new season of the show is weaker than the first two. "
        "The characters make decisions that do not fit with what we learned about them earlier. "
        "Episode {n} was the only one that felt like the old writing. "
        "Curious whether other people here feel the same or if I am being too harsh.",
    ],
    "recipe": [
        "Preheat the oven to {n}0 degrees Celsius and line a baking tray with parchment paper. "
        "In a large bowl, mix the flour, sugar, baking powder and a pinch of salt. "
        "Add the melted butter and the eggs, then stir until you have a smooth dough. "
        "Shape the dough into small balls and bake for twelve to fifteen minutes until golden.",
        "This lentil soup is cheap, filling and ready in about forty minutes. "
        "Start by frying a chopped onion, two carrots and a stick of celery in olive oil. "
        "Add the rinsed lentils, a can of tomatoes and about a liter of vegetable stock. "
        "Simmer gently until the lentils are soft, then season with cumin, lemon juice and black pepper.",
        "To make a simple tomato sauce, warm three tablespoons of olive oil with two sliced cloves of garlic. "
        "Do not let the garlic brown, or the sauce will taste bitter. "
        "Pour in the crushed tomatoes, add a little salt and let everything bubble for about {n} minutes. "
        "Finish with torn basil leaves just before serving.",
        "My grandmother made these dumplings every winter, and I still follow her method. "
        "The filling is pork, cabbage, ginger and spring onion, mixed with a little soy sauce. "
        "She always said the secret was to squeeze the water out of the cabbage before mixing. "
        "We usually make about {n}0 at once and freeze the rest for later.",
        "For a quick weeknight curry, fry a spoonful of curry paste in oil until fragrant. "
        "Add sliced chicken and stir until it is sealed on all sides. "
        "Pour in a can of coconut milk and simmer for fifteen minutes with a handful of green beans. "
        "Serve with rice and a squeeze of lime.",
        "Banana bread is the best way to use overripe bananas that nobody wants to eat. "
        "Mash three bananas with a fork, then beat in soft butter, brown sugar and two eggs. "
        "Fold in the flour and a teaspoon of baking soda, and add walnuts if you like. "
        "Bake in a loaf tin for about an hour, until a skewer comes out clean.",
        "A good salad dressing needs only a few ingredients and takes two minutes. "
        "Whisk three parts olive oil with one part vinegar, a spoon of mustard and a little honey. "
        "Taste it and adjust the salt and pepper before pouring it over the leaves. "
        "The dressing keeps in a jar in the fridge for about {n} days.",
        "Rice pudding is a comforting dessert that needs patience more than skill. "
        "Rinse a cup of short-grain rice and cook it slowly in milk with a vanilla pod. "
        "Stir often so that the rice does not stick to the bottom of the pan. "
        "When it is thick and creamy, sweeten it to taste and sprinkle with cinnamon.",
    ],
    "science": [
        "Researchers at {org} have found that a common soil bacterium can break down certain plastics at room temperature. "
        "In laboratory tests, the microbes reduced thin films of the material by {n} percent in six weeks. "
        "The team is now trying to identify the enzymes responsible for the process. "
        "Scaling the method up for industrial use could take many years.",
        "Astronomers have observed a distant galaxy that appears to have stopped forming stars unusually early. "
        "The light we see left the galaxy when the universe was less than two billion years old. "
        "Current models struggle to explain how it ran out of gas so quickly. "
        "Further observations with infrared telescopes are planned for {year}.",
        "Sleep plays an important role in consolidating memories, according to a growing body of evidence. "
        "In one study, volunteers who slept after learning a list of words remembered {n} percent more of them the next day. "
        "Brain scans suggest that the hippocampus replays recent experiences during deep sleep. "
        "Scientists caution that the effect varies between individuals.",
        "A new battery design uses sodium instead of lithium, which is cheaper and more widely available. "
        "The prototype cells kept {n} percent of their capacity after a thousand charging cycles. "
        "Their energy density is still lower, so they are better suited to storage on the grid than to phones. "
        "Several companies in {city} are already building pilot production lines.",
        "Marine biologists tagged {n} sea turtles off the coast to learn more about their migration routes. "
        "The satellite data showed that some animals traveled more than {big} kilometers in a single season. "
        "Many of the turtles returned to the same feeding grounds year after year. "
        "The findings may help authorities decide where to limit fishing.",
        "Vaccines train the immune system to recognize a pathogen without causing the disease itself. "
        "Some vaccines contain weakened or inactivated viruses, while others contain only a single protein. "
        "Newer messenger RNA vaccines instruct cells to produce that protein for a short time. "
        "In each case, the body builds memory cells that respond quickly to a later infection.",
        "Geologists studying rock layers near {city} found evidence of a large earthquake about {n} thousand years ago. "
        "The layers were suddenly offset by almost two meters along a fault that was thought to be inactive. "
        "The discovery could change how engineers assess the risk for buildings in the area. "
        "The team plans to dig additional trenches next summer.",
        "Climate scientists use computer models to estimate how temperatures will change under different emission scenarios. "
        "The models divide the atmosphere and oceans into a grid and solve equations for heat, moisture and motion. "
        "Finer grids capture clouds and storms better but require far more computing power. "
        "Comparing many models helps researchers judge which results are robust.",
    ],
    "travel": [
        "We arrived in {city} late in the evening and went straight to a small noodle shop near the station. "
        "The owner did not speak much English, but the menu had pictures and the food was excellent. "
        "The next morning we walked along the old canal and climbed the hill to the castle ruins. "
        "From the top you can see the whole valley on a clear day.",
        "If you only have one day in {city}, start early at the central market before the tour groups arrive. "
        "Then take the tram to the harbor and have lunch at one of the fish restaurants. "
        "In the afternoon, the botanical garden is a quiet place to rest your feet. "
        "Tickets cost around {n} euros and are valid for the whole day.",
        "The hike to the lake takes about four hours from the village and is well marked. "
        "The first section climbs steeply through pine forest, so bring plenty of water. "
        "After the pass the trail flattens out and follows a stream through open meadows. "
        "We saw {n} marmots and a family of ibex near the top.",
        "Traveling by overnight train turned out to be one of the highlights of our trip. "
        "The sleeping compartment was small but clean, and the conductor brought tea in the morning. "
        "We woke up to mountains and rice terraces outside the window. "
        "The ticket cost less than a hotel room in {city}, so we also saved money.",
        "A note for anyone visiting in winter: many of the coastal guesthouses close from November to March. "
        "We had to call {n} places before we found one that was open. "
        "On the other hand, the beaches were empty and the light in the afternoon was beautiful. "
        "Bring a warm jacket, because the wind from the sea is cold.",
        "The old quarter of {city} is best explored on foot, since the lanes are too narrow for cars. "
        "Every few steps there is a courtyard, a small temple or a workshop selling handmade paper. "
        "We spent a whole afternoon there without any plan and never got bored. "
        "Try the sesame pancakes sold from a cart near the north gate.",
        "Our ferry to the island was delayed by two hours because of strong winds. "
        "Once we arrived, the island was peaceful, with only a few cars and many bicycles. "
        "We rented bikes for {n} dollars a day and rode around the whole coast in an afternoon. "
        "The sunset from the lighthouse was worth the long trip.",
        "Budget travelers should know that museums in {city} are free on the first Sunday of each month. "
        "Public transport passes for three days are also much cheaper than single tickets. "
        "Street food is safe in most busy areas and costs a fraction of restaurant prices. "
        "We spent about {n}0 dollars a day including our hostel bed.",
    ],
    "code": [
        "In this tutorial we will read a large JSON Lines file without loading it all into memory. "
        "Open the file and iterate over it line by line, calling json.loads on each line. "
        "Wrap the call in a try block so that a single broken line does not stop the whole job. "
        "Count the errors and report them at the end instead of ignoring them silently.",
        "A Python virtual environment keeps the packages of one project separate from the rest of your system. "
        "Create one with python -m venv .venv and activate it before installing anything. "
        "Pin your dependencies in a requirements file so that colleagues get the same versions. "
        "Delete and recreate the environment when it becomes messy, which takes only a minute.",
        "Git branches are cheap, so create a new branch for every feature or bug fix. "
        "Commit small, focused changes with messages that explain why the change was made. "
        "Before merging, rebase on the main branch or merge it in and run the tests again. "
        "This habit makes it much easier to find the commit that introduced a bug {n} weeks later.",
        "When a web page loads slowly, the first step is to measure where the time goes. "
        "Open the network tab of the browser developer tools and reload the page. "
        "Look for large images, scripts that block rendering and requests that wait on slow servers. "
        "In our example, compressing {n} images reduced the load time by more than half.",
        "Regular expressions are powerful, but they quickly become hard to read. "
        "Use named groups and the verbose flag so that each part of the pattern can carry a comment. "
        "Write small tests with both matching and non-matching strings. "
        "If a pattern grows longer than one line, consider whether a simple parser would be clearer.",
        "In SQL, an index speeds up lookups on a column at the cost of slower writes and extra disk space. "
        "Add an index when queries filter or join on a column that has many distinct values. "
        "Use the EXPLAIN command to check whether the database actually uses the index. "
        "On our table with {big} rows, the query time dropped from seconds to milliseconds.",
        "Unit tests should be fast, independent and focused on one behavior each. "
        "Give every test a name that describes the expected outcome, not the function it calls. "
        "Avoid sharing mutable state between tests, because the order in which they run may change. "
        "A suite of {n}00 tests that finishes in seconds gets run far more often than a slow one.",
        "Docker images are built in layers, and each instruction in the Dockerfile adds a new layer. "
        "Put the steps that change rarely, such as installing system packages, near the top. "
        "Copy your source code last so that a small code change does not invalidate the cached layers. "
        "This simple ordering cut our build time from {n} minutes to under one.",
    ],
    "academic": [
        "We study the problem of estimating the number of distinct elements in a data stream with limited memory. "
        "Our algorithm combines hashing with a small set of registers and achieves a relative error of about {n} percent. "
        "We prove upper bounds on the variance and evaluate the method on three public datasets. "
        "The results show that it uses less memory than previous approaches at the same accuracy.",
        "This paper examines how rural households in {city} province responded to changes in agricultural subsidies between {year} and the present. "
        "Using survey data from {big} households, we find that smaller farms were more likely to switch to cash crops. "
        "Access to credit was the strongest predictor of this decision. "
        "We discuss implications for the design of future support programs.",
        "Large language models are trained on text collected from the web, which contains many duplicated documents. "
        "We measure the effect of removing near-duplicates on downstream performance across {n} benchmarks. "
        "Deduplication improves accuracy on most tasks and reduces the memorization of training examples. "
        "We release our filtering code to support further research.",
        "We propose a lightweight convolutional network for detecting plant diseases from photographs taken with mobile phones. "
        "The model runs in real time on low-cost devices and reaches an accuracy of {n} percent on a held-out test set. "
        "We collected the images in cooperation with farmers near {city}. "
        "Errors mostly occur for diseases with similar visual symptoms.",
        "This study investigates the relationship between urban green space and self-reported well-being. "
        "We combine satellite imagery with a questionnaire answered by {big} residents of {n} cities. "
        "After controlling for income and age, people living near parks reported higher life satisfaction. "
        "The association was strongest for older adults and for families with young children.",
        "We present a new corpus of annotated dialogues between patients and pharmacists. "
        "The corpus contains {big} turns labeled with intents, medication names and dosage information. "
        "Baseline models achieve reasonable results on intent classification but struggle with dosage extraction. "
        "We hope the resource will encourage work on safer conversational assistants in healthcare.",
        "Scaling laws describe how the loss of a neural network decreases as model size, data and compute grow. "
        "We fit power laws to {n} training runs and use them to choose the batch size and learning rate for larger models. "
        "The predicted optimum agrees well with the results of a final run at ten times the compute. "
        "We also find that data quality shifts the optimal allocation between model and data size.",
        "We analyze the thermal performance of traditional courtyard houses in a hot and humid climate. "
        "Temperature sensors were installed in {n} houses for a full year. "
        "Courtyards with trees and shallow pools were on average two degrees cooler in the afternoon. "
        "The findings suggest low-cost design measures for new residential buildings.",
    ],
}

TITLES_EN: dict[str, list[str]] = {
    "news": ["Council approves new plan for {city}", "{city} residents react to local decision",
             "What the latest figures mean for {city}", "Record turnout in {city} this weekend",
             "{org} expands operations near {city}", "Local update from {city}"],
    "encyclopedia": ["Overview", "History and geography", "Biology and behavior", "Origins and development",
                     "Structure and function", "Description"],
    "forum": ["Need advice, please help", "Anyone else seeing this?", "Question about {city}",
              "[Solved] thanks everyone", "Beginner question", "Opinions wanted"],
    "recipe": ["Easy weeknight recipe", "Family recipe worth keeping", "Ready in under an hour",
               "Simple comfort food", "My favourite recipe this year"],
    "science": ["Study sheds new light on an old question", "Scientists report surprising result",
                "New findings from {org}", "Research roundup for {year}"],
    "travel": ["Travel notes: {city}", "A weekend in {city}", "Practical tips for visiting {city}",
               "What I learned on the road", "Off the beaten track near {city}"],
    "code": ["Tutorial: practical tips", "How to do it properly", "A short guide for beginners",
             "Lessons learned in production", "Step by step"],
    "academic": ["Abstract", "Summary of findings", "Working paper", "Conference paper abstract"],
}

SLOT_FILLERS_EN: dict[str, list[str]] = {
    "city": ["Springfield", "Riverton", "Lakeside", "Ashford", "Millbrook", "Port Edwin", "Kingsbridge",
             "Northfield", "Westhaven", "Greenvale", "Bramley", "Clearwater", "Stonebridge", "Oakridge",
             "Fairport", "Hollowell", "Redcliff", "Elmstead", "Marlow Bay", "Duncaster", "Harrowgate",
             "Brookhaven", "Silverton", "Eastmoor", "Pinecrest", "Sandown", "Thornbury", "Wexley",
             "Kelsburg", "Alderney Cross", "Highmoor", "Larkspur", "Newcombe", "Glenhaven"],
    "person": ["Maria Alvarez", "James Okafor", "Helen Park", "David Novak", "Aisha Rahman", "Tom Becker",
               "Laura Chen", "Samuel Reyes", "Nadia Petrova", "Peter Lindqvist", "Grace Mwangi",
               "Omar Haddad", "Emily Carter", "Lucas Moreau", "Priya Nair", "Hannah Schmidt",
               "Daniel Kim", "Sofia Rossi", "Michael Brennan", "Yuki Tanaka"],
    "org": ["Northwind Logistics", "the Institute for Applied Research", "Bluegate Energy",
            "Harbor University", "Meridian Foods", "the National Research Council", "Crestline Motors",
            "the Coastal Ecology Lab", "Vantage Systems", "Summit Health Group", "the Polytechnic Institute",
            "Greenfield Cooperative"],
}
